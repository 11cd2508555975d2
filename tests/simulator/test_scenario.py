"""Tests of scenario loading: files, extends, overrides, errors, hashes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import BaseModel

from simulator.errors import InputError, ScenarioError
from simulator.scenario import (
    PATH_FIELDS,
    Scenario,
    load_scenario,
    scenario_hash,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

REPOSITORY = Path(__file__).resolve().parents[2]
SCENARIOS = REPOSITORY / "scenarios"
DOCS = REPOSITORY / "docs" / "scenarios.md"
SMOKE = SCENARIOS / "smoke.yaml"

NEEDS_SHARED_DATA = {"munich.yaml", "replay_sample.yaml"}
"""Scenarios that read the shared data folder beside the repository."""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path, overrides: list[str] | None = None) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, overrides or [])
    return caught.value


@pytest.mark.parametrize(
    "name", sorted(p.name for p in SCENARIOS.glob("*.yaml"))
)
def test_committed_scenarios_load(
    name: str, request: pytest.FixtureRequest
) -> None:
    """Every committed scenario loads, validates and names itself after
    its file."""
    if name in NEEDS_SHARED_DATA:
        request.getfixturevalue("shared_data")

    scenario = load_scenario(SCENARIOS / name)

    assert scenario.name == Path(name).stem
    assert scenario.source == SCENARIOS / name
    assert scenario.description


def test_required_scenarios_are_committed() -> None:
    """The scenarios the issue asks for are all present."""
    required = {
        "smoke",
        "baseline",
        "rush_hour",
        "llm_outage",
        "redis_down",
        "cold_cache",
        "munich",
        "replay_sample",
    }
    assert required <= {p.stem for p in SCENARIOS.glob("*.yaml")}


def test_baseline_has_the_size_the_issue_asks_for() -> None:
    """Baseline: a day, 150 drivers in shifts, 8,000 orders, dispatch
    every 30 s, and a synthetic city of at least 2,000 intersections."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    assert scenario.city is not None
    assert scenario.demand is not None
    assert scenario.fleet is not None

    assert scenario.duration_s == 86400
    assert scenario.fleet.drivers == 150
    assert len(scenario.fleet.shifts) > 1
    assert scenario.demand.orders_per_day == 8000
    assert scenario.dispatch.epoch_s == 30
    assert (scenario.city.synthetic.blocks + 1) ** 2 >= 2000


def test_smoke_is_one_small_hour() -> None:
    """The smoke scenario is one simulated hour of a small city."""
    scenario = load_scenario(SMOKE)
    assert scenario.duration_s == 3600
    assert scenario.fleet is not None
    assert scenario.fleet.drivers <= 20


def test_replay_makes_city_demand_and_fleet_optional(
    shared_data: Path,
) -> None:
    """A replay scenario has no city, demand or fleet, and its instance
    path resolves against the scenario file's folder."""
    scenario = load_scenario(SCENARIOS / "replay_sample.yaml")

    assert scenario.city is None
    assert scenario.demand is None
    assert scenario.fleet is None
    assert scenario.replay is not None
    assert scenario.replay.instance == shared_data / "replay" / "sample"


def test_munich_paths_resolve_against_the_scenario_file(
    shared_data: Path,
) -> None:
    """munich.yaml's relative network paths point into the shared data."""
    scenario = load_scenario(SCENARIOS / "munich.yaml")
    assert scenario.city is not None
    assert scenario.city.csv is not None
    assert scenario.city.csv.nodes == (
        shared_data / "networks" / "munich" / "nodes.csv"
    )


def test_extends_merges_mappings_and_replaces_lists(tmp_path: Path) -> None:
    """A child overrides single fields of its parent's sections, keeps
    the rest, and replaces lists whole."""
    _write(
        tmp_path,
        "parent.yaml",
        f"extends: {SMOKE}\n"
        "faults:\n"
        "  - {kind: llm_outage, start_s: 10, end_s: 20}\n"
        "  - {kind: llm_outage, start_s: 30, end_s: 40}\n",
    )
    child = _write(
        tmp_path,
        "child.yaml",
        "extends: parent.yaml\n"
        "name: child\n"
        "fleet: {drivers: 3}\n"
        "faults:\n"
        "  - {kind: llm_slow, start_s: 5, end_s: 6, factor: 3}\n",
    )

    scenario = load_scenario(child)
    smoke = load_scenario(SMOKE)

    assert scenario.name == "child"
    assert scenario.fleet is not None
    assert smoke.fleet is not None
    assert scenario.fleet.drivers == 3
    assert scenario.fleet.capacity == smoke.fleet.capacity
    assert scenario.fleet.speed_factor == smoke.fleet.speed_factor
    assert [f.kind for f in scenario.faults] == ["llm_slow"]
    assert scenario.city == smoke.city


def test_null_clears_an_inherited_section(tmp_path: Path) -> None:
    """``null`` in a child removes what the parent set, so the default
    applies again."""
    child = _write(
        tmp_path,
        "child.yaml",
        f"extends: {SMOKE}\nengine: {{advisor: null}}\n",
    )
    scenario = load_scenario(child)
    assert scenario.engine.advisor.latency.median_s == 0.8


def test_new_kind_replaces_a_distribution(tmp_path: Path) -> None:
    """A child that gives a distribution another kind replaces it whole,
    so the parent's parameters of the old kind do not linger."""
    child = _write(
        tmp_path,
        "child.yaml",
        f"extends: {SMOKE}\n"
        "demand: {prep_time_s: {kind: constant, value: 300}}\n"
        "fleet: {speed_factor: {high: 1.2}}\n",
    )
    scenario = load_scenario(child)

    assert scenario.demand is not None
    assert scenario.fleet is not None
    assert scenario.demand.prep_time_s.kind == "constant"
    assert scenario.demand.prep_time_s.median is None
    assert scenario.fleet.speed_factor.low == 0.9
    assert scenario.fleet.speed_factor.high == 1.2


def test_overrides_set_nested_fields_and_list_items(tmp_path: Path) -> None:
    """``--set`` reaches nested fields, list items by index in either
    spelling, and whole sections given as YAML flow values."""
    base = _write(
        tmp_path,
        "base.yaml",
        f"extends: {SMOKE}\n"
        "faults: [{kind: demand_spike, start_s: 0, end_s: 60, factor: 2}]\n",
    )
    scenario = load_scenario(
        base,
        [
            "fleet.drivers=4",
            "faults[0].factor=3",
            "faults.0.end_s=90",
            "engine.advisor.breaker.min_calls=9",
            "demand.prep_time_s={kind: uniform, low: 60, high: 120}",
            "description=from the command line",
        ],
    )

    assert scenario.fleet is not None
    assert scenario.demand is not None
    assert scenario.fleet.drivers == 4
    assert scenario.faults[0].factor == 3
    assert scenario.faults[0].end_s == 90
    assert scenario.engine.advisor.breaker.min_calls == 9
    assert scenario.demand.prep_time_s.kind == "uniform"
    assert scenario.description == "from the command line"


def test_override_paths_resolve_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative path given with --set is read from where the command
    runs, not from the scenario's folder."""
    folder = tmp_path / "networks"
    folder.mkdir()
    for name in ("nodes.csv", "edges.csv"):
        _write(folder, name, "")
    monkeypatch.chdir(tmp_path)

    scenario = load_scenario(
        SMOKE,
        [
            "city.kind=csv",
            "city.csv={nodes: networks/nodes.csv, edges: networks/edges.csv}",
        ],
    )

    assert scenario.city is not None
    assert scenario.city.csv is not None
    assert scenario.city.csv.nodes == folder / "nodes.csv"
    assert scenario.city.csv.edges == folder / "edges.csv"


def test_paths_resolve_against_the_file_that_set_them(tmp_path: Path) -> None:
    """A path set in a parent file stays relative to the parent, even
    when the child lives elsewhere."""
    parent_folder = tmp_path / "parent"
    (parent_folder / "data").mkdir(parents=True)
    for name in ("nodes.csv", "edges.csv"):
        _write(parent_folder / "data", name, "")
    _write(
        parent_folder,
        "parent.yaml",
        f"extends: {SMOKE}\n"
        "city:\n  kind: csv\n"
        "  csv: {nodes: data/nodes.csv, edges: data/edges.csv}\n",
    )
    child_folder = tmp_path / "child"
    child_folder.mkdir()
    child = _write(
        child_folder, "child.yaml", "extends: ../parent/parent.yaml\n"
    )

    scenario = load_scenario(child)

    assert scenario.city is not None
    assert scenario.city.csv is not None
    assert scenario.city.csv.nodes == parent_folder / "data" / "nodes.csv"


@pytest.mark.parametrize(
    ("text", "path", "value", "allowed"),
    [
        ("fleet: {drivers: -3}", "fleet.drivers", -3, "must be >= 1"),
        ("fleet: {drivers: ten}", "fleet.drivers", "ten", "integer"),
        ("fleet: {drivers: true}", "fleet.drivers", True, "integer"),
        ("seed: 1.5", "seed", 1.5, "integer"),
        ("duration_s: .inf", "duration_s", float("inf"), "finite"),
        ("dispatch: {backend: cplex}", "dispatch.backend", "cplex", "'pyvrp'"),
        (
            "fleet: {capacty: 3}",
            "fleet.capacty",
            3,
            "allowed: capacity, drivers,",
        ),
        (
            "city: {hour_multipliers: [1, 2]}",
            "city.hour_multipliers",
            [1, 2],
            "at least 24 items",
        ),
        (
            "faults: [{kind: llm_slow, start_s: 10, end_s: 5, factor: 2}]",
            "faults[0].end_s",
            5.0,
            "must be > start_s (10)",
        ),
        (
            "faults: [{kind: llm_slow, start_s: 0, end_s: 5}]",
            "faults[0].factor",
            None,
            "required by kind: llm_slow",
        ),
        (
            "faults: [{kind: llm_outage, start_s: 0, end_s: 5, share: 0.5}]",
            "faults[0].share",
            0.5,
            "not used by kind: llm_outage",
        ),
        (
            "demand: {prep_time_s: {kind: uniform, low: 5, high: 2}}",
            "demand.prep_time_s.high",
            2.0,
            "must be >= low",
        ),
        (
            "demand: {merchants: {zone_weights: {z7-7: 1}}}",
            "demand.merchants.zone_weights.z7-7",
            "z7-7",
            "must be a zone of city.zones",
        ),
        (
            "targets: {endpoints: {eta: {p50: 1.0, p95: 0.5}}}",
            "targets.endpoints.eta.p95",
            0.5,
            "must be >= p50",
        ),
        (
            "fleet: {shifts: [{start_hour: 20, end_hour: 4}]}",
            "fleet.shifts[0].end_hour",
            4.0,
            "after start_hour",
        ),
        (
            "city: {hour_multipliers: [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1,"
            " 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}",
            "city.hour_multipliers[3]",
            0.0,
            "must be > 0",
        ),
        (
            "faults: [{kind: redis_down, start_s: 0, end_s: 5}]",
            "faults[0].kind",
            "redis_down",
            "engine.cache.backend: redis",
        ),
    ],
)
def test_errors_name_file_field_value_and_rule(
    tmp_path: Path, text: str, path: str, value: object, allowed: str
) -> None:
    """A bad value in a file is reported with the file, the dotted path
    of the field, the value and what is allowed."""
    scenario = _write(tmp_path, "bad.yaml", f"extends: {SMOKE}\n{text}\n")

    error = _error(scenario)

    assert isinstance(error, InputError)
    assert error.source == str(scenario)
    assert error.path == path
    if value is None:
        assert repr(error.value) == "(missing)"
    else:
        assert error.value == value
    assert allowed in error.allowed
    assert str(error).startswith(f"{scenario}: {path}: ")


def test_error_names_the_parent_file_that_set_the_value(
    tmp_path: Path,
) -> None:
    """A bad value inherited through extends is blamed on the file that
    wrote it, not the child."""
    _write(
        tmp_path, "parent.yaml", f"extends: {SMOKE}\nfleet: {{drivers: 0}}\n"
    )
    child = _write(tmp_path, "child.yaml", "extends: parent.yaml\nseed: 3\n")

    error = _error(child)

    assert error.source == str(tmp_path / "parent.yaml")
    assert error.path == "fleet.drivers"


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    """A scenario without a duration says duration_s is required."""
    scenario = _write(tmp_path, "bare.yaml", "name: bare\n")
    error = _error(scenario)
    assert error.path == "duration_s"
    assert error.allowed == "is required"


def test_every_problem_is_reported(tmp_path: Path) -> None:
    """With several bad fields, the first is raised and the others are
    attached as notes, each in the same form."""
    scenario = _write(
        tmp_path,
        "bad.yaml",
        f"extends: {SMOKE}\nseed: -1\nfleet: {{drivers: 0, capacity: 0}}\n",
    )
    error = _error(scenario)

    notes = getattr(error, "__notes__", [])
    assert error.path == "seed"
    assert notes == [
        f"{scenario}: fleet.drivers: 0: must be >= 1",
        f"{scenario}: fleet.capacity: 0: must be >= 1",
    ]


@pytest.mark.parametrize(
    ("override", "path", "allowed"),
    [
        ("fleet.drivrs=3", "fleet.drivrs", "allowed: capacity"),
        ("fleet.drivers=-3", "fleet.drivers", "must be >= 1"),
        ("fleet.drivers=[1", "fleet.drivers", "must be a YAML value"),
        ("fleet.drivers.count=3", "fleet.drivers", "has no field 'count'"),
        ("faults[2].start_s=3", "faults[2]", "the list is empty"),
        ("nonsense", "", "must be FIELD.PATH=VALUE"),
        ("fleet..drivers=3", "", "must be FIELD.PATH=VALUE"),
        ("=3", "", "must be FIELD.PATH=VALUE"),
    ],
)
def test_bad_overrides_are_named(
    override: str, path: str, allowed: str
) -> None:
    """A bad --set names itself as the source, the field path and what
    is allowed; it is validated like the file."""
    error = _error(SMOKE, [override])

    assert error.source == "--set"
    assert error.path == path
    assert allowed in error.allowed


def test_override_cannot_set_the_source() -> None:
    """``source`` is the loader's to set."""
    error = _error(SMOKE, ["source=elsewhere.yaml"])
    assert error.path == "source"


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    """A file that is not YAML is reported with the line of the problem."""
    scenario = _write(tmp_path, "broken.yaml", "name: x\nfleet: [1\n")
    error = _error(scenario)
    assert error.source == str(scenario)
    assert re.search(
        r"must be valid YAML \(line \d+, column \d+\)", str(error)
    )


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("- a list\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
        ("extends: 3\n", "must be the path of a scenario file"),
        ("extends: nowhere.yaml\n", "must name an existing file"),
    ],
)
def test_malformed_files_are_named(
    tmp_path: Path, text: str, allowed: str
) -> None:
    """Top-level shapes and ``extends`` values that cannot work are
    reported against the file."""
    scenario = _write(tmp_path, "odd.yaml", text)
    error = _error(scenario)
    assert error.source == str(scenario)
    assert allowed in error.allowed


def test_extends_cycle_is_reported(tmp_path: Path) -> None:
    """Files that extend each other in a circle are refused, with the
    cycle spelled out."""
    first = _write(tmp_path, "a.yaml", "extends: b.yaml\n")
    _write(tmp_path, "b.yaml", "extends: a.yaml\n")
    error = _error(first)
    assert error.path == "extends"
    assert "cycle" in error.allowed
    assert "a.yaml -> " in error.allowed


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A scenario file that does not exist is named."""
    error = _error(tmp_path / "absent.yaml")
    assert "must be a readable scenario file" in error.allowed


def test_missing_network_file_is_reported(tmp_path: Path) -> None:
    """A network path that leads nowhere is refused on load, with the
    resolved path."""
    scenario = _write(
        tmp_path,
        "net.yaml",
        f"extends: {SMOKE}\n"
        "city: {kind: csv, csv: {nodes: n.csv, edges: e.csv}}\n",
    )
    error = _error(scenario)
    assert error.path == "city.csv.nodes"
    assert error.value == str(tmp_path / "n.csv")
    assert error.allowed == "must be an existing file"


def test_hash_is_stable_and_content_based(tmp_path: Path) -> None:
    """The hash ignores the file's location and spelled-out defaults,
    and changes with any field."""
    smoke = load_scenario(SMOKE)
    copy = _write(tmp_path, "copy.yaml", SMOKE.read_text(encoding="utf-8"))
    spelled = _write(
        tmp_path,
        "spelled.yaml",
        f"extends: {SMOKE}\ndispatch: {{reoptimize: true}}\n",
    )

    assert scenario_hash(smoke) == scenario_hash(load_scenario(copy))
    assert scenario_hash(smoke) == scenario_hash(load_scenario(spelled))
    assert scenario_hash(smoke) != scenario_hash(
        load_scenario(SMOKE, ["seed=2"])
    )
    assert re.fullmatch(r"[0-9a-f]{32}", scenario_hash(smoke))


def test_hash_follows_referenced_file_contents(tmp_path: Path) -> None:
    """Network files count by content: the same files in two folders
    hash alike, a changed file does not."""
    hashes = []
    for folder, edges in (("one", "e"), ("two", "e"), ("three", "f")):
        directory = tmp_path / folder
        directory.mkdir()
        _write(directory, "nodes.csv", "n")
        _write(directory, "edges.csv", edges)
        scenario = _write(
            directory,
            "s.yaml",
            f"extends: {SMOKE}\n"
            "city: {kind: csv, csv: {nodes: nodes.csv, edges: edges.csv}}\n",
        )
        hashes.append(scenario_hash(load_scenario(scenario)))

    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2]


def test_scenario_is_frozen() -> None:
    """A loaded scenario cannot be changed in place."""
    scenario = load_scenario(SMOKE)
    with pytest.raises(ValueError, match="frozen"):
        scenario.seed = 5  # type: ignore[misc]


def _field_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        if name == "source":
            continue
        path = f"{prefix}{name}"
        yield path
        inner = _section_class(field.annotation)
        if inner is not None:
            yield from _field_paths(inner, f"{path}.")


def _section_class(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _section_class(argument)
        if found is not None:
            return found
    return None


def test_docs_describe_every_field() -> None:
    """docs/scenarios.md has a row for every field of the schema, by its
    full dotted path (list items as ``[]``)."""
    text = DOCS.read_text(encoding="utf-8")
    text = text.split("## Reference", 1)[1].split("### `engine.cache` keys")[0]
    documented = set(re.findall(r"^\| `([a-z_.\[\]0-9]+)` \|", text, re.M))

    expected = set()
    for path in _field_paths(Scenario):
        expected.add(
            path.replace("faults.", "faults[].").replace(
                "shifts.", "shifts[]."
            )
        )

    assert expected - documented == set()
    assert documented - expected == set()


def test_path_fields_are_paths() -> None:
    """Every field listed as a path is a field of the schema."""
    paths = set(_field_paths(Scenario))
    for field in PATH_FIELDS:
        assert ".".join(field) in paths
