"""Build every dashboard, and write them as JSON for provisioning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import caches, city, comparison, engine

if TYPE_CHECKING:
    from collections.abc import Callable

    from grafana_foundation_sdk.builders.dashboard import Dashboard

FOLDER = Path(__file__).resolve().parent / "json"
"""Where the dashboards' JSON is committed and provisioned from."""

BUILDERS: dict[str, Callable[[], Dashboard]] = {
    engine.UID: engine.dashboard,
    caches.UID: caches.dashboard,
    city.UID: city.dashboard,
    comparison.UID: comparison.dashboard,
}
"""Every dashboard's builder, by uid (which is also its file name)."""


def build_all() -> dict[str, str]:
    """Every dashboard's JSON text, by file name."""
    return {
        f"{uid}.json": render(builder()) for uid, builder in BUILDERS.items()
    }


def render(dashboard: Dashboard) -> str:
    """A dashboard as stable JSON: sorted keys, two-space indents."""
    document: Any = dashboard.build()
    return (
        json.dumps(document, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
    )


def write_all(folder: Path = FOLDER) -> list[Path]:
    """Write every dashboard into ``folder``; returns the files that
    changed (or were new)."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in build_all().items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def expressions(document: Any) -> list[tuple[str, str]]:
    """``(panel title, PromQL)`` of every query of a dashboard's JSON."""
    found = []
    for panel in document.get("panels", []):
        for target in panel.get("targets", []):
            found.append((panel["title"], target["expr"]))
    return found
