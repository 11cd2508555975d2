"""docs/metrics.md and the code agree: every registered metric is
described, every described metric exists, and the panels listed for each
are the panels whose queries read it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dashboards.build import build_all, expressions
from engine.metrics import Metrics, exposed_name

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"

ROW = re.compile(r"^\| `(barq_\w+)` \| (\w+) \| ([^|]+) \|([^|]*)\|(.+)\|$")

SUFFIXES = re.compile(r"_(bucket|count|sum)$")


def documented() -> dict[str, tuple[str, str, str, set[str]]]:
    """``name -> (type, unit, labels, panels)`` of every table row."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match is None:
            continue
        name, kind, unit, labels, rest = match.groups()
        panels = rest.rsplit("|", 1)[1].strip()
        assert name not in rows, f"{name} is described twice"
        rows[name] = (
            kind,
            unit.strip(),
            labels.strip(),
            set() if panels == "-" else set(panels.split("; ")),
        )
    return rows


def registered() -> dict[str, str]:
    """``exposed name -> type`` of every collector Barq registers."""
    return {
        exposed_name(family): family.type
        for family in Metrics.build().registry.collect()
    }


def panel_uses(names: set[str]) -> dict[str, set[str]]:
    """``metric -> {"dashboard: panel"}`` from the built dashboards."""
    uses: dict[str, set[str]] = {name: set() for name in names}
    for text in build_all().values():
        document = json.loads(text)
        board = document["uid"].removeprefix("barq-")
        for title, expr in expressions(document):
            for token in re.findall(r"barq_\w+", expr):
                name = token if token in names else SUFFIXES.sub("", token)
                assert name in names, f"{board}: {title} reads {token}"
                uses[name].add(f"{board}: {title}")
    return uses


def test_every_registered_metric_is_described_and_vice_versa() -> None:
    """The table's names are exactly the registered ones."""
    assert set(documented()) == set(registered())


def test_types_match() -> None:
    """Each row's type is the collector's."""
    kinds = registered()
    for name, (kind, _, _, _) in documented().items():
        assert kind == kinds[name], name


@pytest.mark.parametrize("name", sorted(registered()))
def test_labels_match_the_collector(name: str) -> None:
    """Each row lists exactly the labels the collector declares."""
    family_labels = _declared_labels()[name]
    listed = documented()[name][2]
    assert {
        label.strip() for label in listed.split(",") if label.strip()
    } == set(family_labels)


def _declared_labels() -> dict[str, tuple[str, ...]]:
    metrics = Metrics.build()
    declared: dict[str, tuple[str, ...]] = {}
    for adapter in (
        metrics.requests,
        metrics.cache,
        metrics.advisor,
        metrics.solver,
        metrics.storage,
        metrics.city,
        metrics.simulation,
    ):
        for collector in vars(adapter).values():
            describe = getattr(collector, "describe", None)
            if describe is None:
                continue
            for family in describe():
                declared[exposed_name(family)] = tuple(collector._labelnames)
    return declared


def test_units_of_suffixed_names() -> None:
    """A name ending in a unit says that unit in its row."""
    for name, (_, unit, _, _) in documented().items():
        base = name.removesuffix("_total")
        if base.endswith("_seconds"):
            assert unit == "seconds", name
        if base.endswith("_bytes"):
            assert unit == "bytes", name


def test_panels_listed_are_the_panels_reading_each_metric() -> None:
    """Each row names exactly the dashboard panels whose queries read
    the metric, and every panel reads only described metrics."""
    rows = documented()
    uses = panel_uses(set(rows))
    for name, (_, _, _, panels) in rows.items():
        assert panels == uses[name], name
