"""The committed dashboards are what the code builds, and each panel is
complete: a query on the provisioned datasource, a unit, a description,
thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dashboards.build import (
    BUILDERS,
    FOLDER,
    build_all,
    expressions,
    write_all,
)
from dashboards.panels import DATASOURCE_UID

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "dashboards" / "provisioning"


def test_committed_json_is_what_the_code_builds() -> None:
    """Rebuilding changes no committed file and adds none: run `barq
    dashboards build` and commit when this fails."""
    built = build_all()
    committed = {path.name for path in FOLDER.glob("*.json")}
    assert committed == set(built)
    for name, text in built.items():
        assert (FOLDER / name).read_text(encoding="utf-8") == text, name


def test_build_writes_only_what_changed(tmp_path: Path) -> None:
    """A first build writes every dashboard, a second one none."""
    assert len(write_all(tmp_path)) == len(BUILDERS)
    assert write_all(tmp_path) == []


def test_the_four_dashboards() -> None:
    """Engine, caches and advisor, city and run comparison are built,
    each named by its uid."""
    assert set(BUILDERS) == {
        "barq-engine",
        "barq-caches",
        "barq-city",
        "barq-comparison",
    }
    for name, text in build_all().items():
        assert json.loads(text)["uid"] == name.removesuffix(".json")


@pytest.mark.parametrize("name", sorted(build_all()))
def test_every_panel_is_complete(name: str) -> None:
    """Every panel has a title, a description, a unit, thresholds and
    at least one query, all on the provisioned datasource."""
    document = json.loads(build_all()[name])
    assert document["panels"]
    for panel in document["panels"]:
        defaults = panel["fieldConfig"]["defaults"]
        assert panel["title"]
        assert len(panel["description"]) > 20, panel["title"]
        assert defaults["unit"], panel["title"]
        assert defaults["thresholds"]["steps"], panel["title"]
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == DATASOURCE_UID
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
            assert target["expr"].strip()


def test_comparison_selects_runs_by_variables() -> None:
    """Every query of the run comparison names the baseline or the
    candidate run, and both are variables over the run label."""
    document = json.loads(build_all()["barq-comparison.json"])
    variables = {v["name"]: v for v in document["templating"]["list"]}
    for run in ("baseline", "candidate"):
        assert "run)" in variables[run]["query"]
    for _, expr in expressions(document):
        assert 'run="$baseline"' in expr or 'run="$candidate"' in expr


def test_provisioning_names_the_datasource_and_the_folder() -> None:
    """The provisioned datasource has the uid the panels use, and the
    dashboard provider reads a folder."""
    source = yaml.safe_load(
        (PROVISIONING / "datasources" / "prometheus.yml").read_text()
    )
    [datasource] = source["datasources"]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"
    provider = yaml.safe_load(
        (PROVISIONING / "dashboards" / "barq.yml").read_text()
    )
    [entry] = provider["providers"]
    assert entry["type"] == "file"
    assert entry["options"]["path"].startswith("/")
