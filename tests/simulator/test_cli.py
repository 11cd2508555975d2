"""Tests of the ``barq`` command line, run in process."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[2]
"""The project root, where ``barq`` finds the shared data by default."""

SMALL: dict[str, Any] = {
    "locations": [
        {"id": "depot", "x": 0, "y": 0},
        {"id": "shop", "x": 30, "y": 40},
        {"id": "home", "x": 60, "y": 0},
        {"id": "office", "x": 0, "y": 80},
    ],
    "orders": [
        {"id": "o1", "pickup": "shop", "delivery": "home", "due_time": 500},
        {"id": "o2", "pickup": "shop", "delivery": "office", "quantity": 2},
        {
            "id": "o3",
            "pickup": "home",
            "delivery": "depot",
            "ready_time": 20,
            "due_time": None,
        },
    ],
    "vehicles": [
        {"id": "v1", "start": "depot", "end": "depot", "capacity": 3},
        {"id": "v2", "start": "shop", "capacity": 2, "shift_end": 3600},
    ],
    "travel": {"model": "euclidean", "speed": 1.0},
}
"""Three orders and two vehicles on a plane: every order can be served."""

SERVED = re.compile(r"^served\s+(\d+) orders, (\d+) unassigned$", re.M)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=1))
    return path


def served(out: str) -> tuple[int, int]:
    """Orders served and unassigned, from the printed summary."""
    match = SERVED.search(out)
    assert match is not None, out
    return int(match[1]), int(match[2])


def bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``, check it exits 2, and return what it printed to
    stderr."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("barq: error: ")
    return captured.err


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``, check argparse rejects it with exit 2, and return
    what it printed to stderr."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    return capsys.readouterr().err


# barq solve


def test_solve_example_serves_every_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The embedded example's 100 orders are all served by the heuristic,
    and the summary says so."""
    assert main(["solve", "--backend", "heuristic"]) == 0

    out = capsys.readouterr().out
    assert "example (100 orders, 20 couriers)" in out
    assert re.search(r"^backend\s+heuristic$", out, re.M)
    assert served(out) == (100, 0)


def test_solve_out_writes_every_order_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan written by --out holds each example order exactly once,
    on a route (pickup then delivery) or as unassigned."""
    out_path = tmp_path / "plan.json"

    assert (
        main(["solve", "--backend", "heuristic", "--out", str(out_path)]) == 0
    )

    plan = json.loads(out_path.read_text())
    assert f"plan written to {out_path}" in capsys.readouterr().out
    kinds: dict[str, list[str]] = {}
    for route in plan["routes"]:
        for stop in route["stops"]:
            kinds.setdefault(stop["order_id"], []).append(stop["kind"])
    unassigned = [u["order_id"] for u in plan["unassigned"]]
    assert all(k == ["pickup", "delivery"] for k in kinds.values())
    assert Counter([*kinds, *unassigned]) == Counter(
        f"o{k}" for k in range(100)
    )


@pytest.mark.parametrize("backend", ["heuristic", "ortools", "pyvrp"])
def test_solve_request_file_with_each_backend(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A small request file is solved by the backend asked for, without
    falling back, and every order is served."""
    request = write_json(tmp_path / "small.json", SMALL)
    out_path = tmp_path / "plan.json"

    code = main(
        [
            "solve",
            str(request),
            "--backend",
            backend,
            "--work-limit",
            "50",
            "--out",
            str(out_path),
        ]
    )

    assert code == 0
    out = capsys.readouterr().out
    assert f"request   {request}" in out
    assert served(out) == (3, 0)
    stats = json.loads(out_path.read_text())["stats"]
    assert (stats["backend"], stats["fallback"]) == (backend, False)


def test_solve_missing_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A request file that is not there is named, with the reason."""
    path = tmp_path / "absent.json"

    err = bad_input(["solve", str(path)], capsys)

    assert str(path) in err
    assert "No such file or directory" in err
    assert "must be a readable JSON file" in err


def test_solve_invalid_json_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Broken JSON is named by file and line, with the parser's message."""
    path = tmp_path / "broken.json"
    path.write_text('{\n  "orders": [],\n  "vehicles": [,]\n}\n')

    err = bad_input(["solve", str(path)], capsys)

    assert f"{path}:3" in err
    assert "Expecting value" in err
    assert "must be valid JSON" in err


def test_solve_file_that_is_not_text_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes that are not UTF-8 are bad input (exit 2) naming the file,
    not a crash."""
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe{}")

    err = bad_input(["solve", str(path)], capsys)

    assert str(path) in err


def test_solve_order_due_before_ready_names_the_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken rule of the model is named by field, value and rule."""
    data = json.loads(json.dumps(SMALL))
    data["orders"][1].update(ready_time=900, due_time=600)
    path = write_json(tmp_path / "late.json", data)

    err = bad_input(["solve", str(path)], capsys)

    assert "orders[o2].due_time = 600" in err
    assert "must be >= ready_time (900)" in err


def test_solve_negative_work_limit_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An impossible iteration budget is bad input naming the option."""
    path = write_json(tmp_path / "small.json", SMALL)

    err = bad_input(["solve", str(path), "--work-limit", "-5"], capsys)

    assert "options.work_limit = -5" in err


def test_solve_unknown_backend_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """argparse rejects a backend it does not know, listing the choices."""
    err = usage_error(["solve", "--backend", "quantum"], capsys)

    assert "--backend" in err
    assert "'quantum'" in err
    assert "heuristic" in err


@pytest.mark.parametrize("limit", ["0", "-1", "soon", "nan"])
def test_solve_time_limit_must_be_positive(
    limit: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A time limit that is no positive number is a usage error that
    names the option and the value."""
    err = usage_error(["solve", "--time-limit", limit], capsys)

    assert "--time-limit" in err
    assert repr(limit) in err


# barq bench solver


def test_bench_solver_on_lc101(
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """From the project root, the benchmark finds the shared data, prints
    a row for lc101 and an average, and writes routes that visit every
    pickup and delivery node of the instance once, never the depot."""
    monkeypatch.chdir(ROOT)
    json_path = tmp_path / "bench.json"
    instance_file = shared_data / "benchmarks" / "lilim100" / "lc101.txt"

    code = main(
        [
            "bench",
            "solver",
            "--set",
            "lilim100",
            "--instances",
            "lc101",
            "--time-limit",
            "0.1",
            "--backend",
            "heuristic",
            "--json",
            str(json_path),
        ]
    )

    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["instance", "veh"]
    assert lines[1].split()[0] == "lc101"
    assert lines[2].split()[0] == "average"
    assert lines[3].startswith("1/1 feasible; set lilim100")

    result = json.loads(json_path.read_text())
    (instance,) = result["instances"]
    rows = [line.split() for line in instance_file.read_text().splitlines()]
    nodes = sorted(int(row[0]) for row in rows[1:] if row and row[0] != "0")
    visited = [node for route in instance["routes"] for node in route]
    assert instance["instance"] == "lc101"
    assert instance["feasible"] is True
    assert instance["unassigned"] == 0
    assert 0 not in visited
    assert sorted(visited) == nodes
    assert len(instance["routes"]) == instance["vehicles"]
    assert result["average"]["feasible"] == 1


def test_bench_solver_unknown_instance_is_named(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An instance name the set does not have is bad input naming it."""
    err = bad_input(
        [
            "bench",
            "solver",
            "--set",
            "lilim100",
            "--data",
            str(shared_data / "benchmarks"),
            "--instances",
            "lc101,lc999",
            "--time-limit",
            "0.1",
        ],
        capsys,
    )

    assert "--instances = 'lc999'" in err
    assert "lilim100" in err
