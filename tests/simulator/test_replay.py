"""Tests of replays of the meal-delivery benchmark as simulation runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from simulator.replay.dispatch import EnginePolicy
from simulator.replay.instance import (
    generate_instance,
    read_instance,
    write_instance,
)
from simulator.replay.rules import Assignment, CourierState, execute
from simulator.replay.run import replay
from simulator.replay.solution import validate_solution
from simulator.run import simulate
from simulator.scenario import load_scenario

REPOSITORY = Path(__file__).resolve().parents[2]


def _scenario(tmp_path: Path, instance: Path, policy: str) -> Path:
    path = tmp_path / "replay.yaml"
    path.write_text(
        "name: replay_test\n"
        "seed: 5\n"
        "duration_s: 86400\n"
        "replay:\n"
        f"  instance: {instance}\n"
        f"  policy: {policy}\n"
        "dispatch:\n"
        "  work_limit: 20\n"
    )
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated instance written as a benchmark folder."""
    folder = tmp_path_factory.mktemp("instance")
    instance = generate_instance(
        np.random.default_rng(11), hours=2, restaurants=8, peak_rate=0.5
    )
    write_instance(instance, folder)
    return folder


@pytest.fixture(scope="module", params=["engine", "greedy"])
def replay_run(
    request: pytest.FixtureRequest,
    generated: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Any]]:
    """The run directory of a replay of the generated instance."""
    folder = tmp_path_factory.mktemp(f"run-{request.param}")
    scenario = load_scenario(_scenario(folder, generated, request.param))
    results = simulate(scenario, folder / "run")
    return folder / "run", results


def test_written_solution_obeys_every_rule(
    replay_run: tuple[Path, dict[str, Any]], generated: Path
) -> None:
    """The three solution files of a replay run break none of the
    benchmark's rules, checked from the files and the instance alone."""
    out, _ = replay_run

    assert validate_solution(read_instance(generated), out) == []


def test_measures_agree_with_the_solution_files(
    replay_run: tuple[Path, dict[str, Any]],
) -> None:
    """The replay measures in results.json are those of the written
    orders file: orders delivered and click-to-door mean and p90."""
    out, results = replay_run
    written = pd.read_csv(out / "solution_info_orders.txt", sep=" ")
    click_to_door = written["dropoff_time"] - written["placement_time"]
    measures = results["replay"]

    assert measures["delivered"] == len(written) > 0
    assert measures["click_to_door_mean"] == pytest.approx(
        click_to_door.mean(), abs=1e-3
    )
    assert measures["click_to_door_p90"] == pytest.approx(
        np.percentile(click_to_door, 90), abs=1e-3
    )


def test_no_delivery_beats_its_click_to_door_bound(
    replay_run: tuple[Path, dict[str, Any]], generated: Path
) -> None:
    """Every delivered order of the written solution takes at least the
    click-to-door its bound allows, and results.json holds the bound's
    mean over the instance's orders."""
    out, results = replay_run
    instance = read_instance(generated)
    written = pd.read_csv(
        out / "solution_info_orders.txt", sep=" ", dtype={"order": str}
    )
    bounds = [
        instance.click_to_door_bound(instance.order[o])
        for o in written["order"]
    ]
    click_to_door = written["dropoff_time"] - written["placement_time"]

    assert (click_to_door.to_numpy() >= np.array(bounds) - 1e-9).all()
    assert results["replay"]["click_to_door_bound_mean"] == pytest.approx(
        np.mean([instance.click_to_door_bound(o) for o in instance.orders])
    )


def test_click_to_door_bound_is_that_of_a_courier_waiting_at_the_restaurant(
    generated: Path,
) -> None:
    """The bound is met exactly by a courier standing at the order's
    restaurant when it is placed, taking it alone: the rules' own
    timing, not a second formula."""
    instance = read_instance(generated)
    for order in instance.orders:
        restaurant = instance.restaurant[order.restaurant]
        waiting = CourierState(
            "waiting",
            restaurant.id,
            restaurant.x,
            restaurant.y,
            order.placement,
        )
        assignment = Assignment(
            order.placement, "waiting", restaurant.id, (order.id,)
        )
        (dropoff,) = execute(instance, assignment, waiting).dropoffs

        assert dropoff - order.placement == instance.click_to_door_bound(order)


def test_replay_kpis_add_up(replay_run: tuple[Path, dict[str, Any]]) -> None:
    """Every order of the instance is delivered or still open, the KPIs
    count the orders table, and results.json on disk is the returned
    document."""
    out, results = replay_run
    kpis = results["kpis"]
    orders = pd.read_parquet(out / "orders.parquet")

    assert kpis["orders_created"] == len(orders)
    assert kpis["orders_cancelled"] == 0
    assert (
        kpis["orders_delivered"] + kpis["orders_open"]
        == kpis["orders_created"]
    )
    assert kpis["orders_delivered"] == results["replay"]["delivered"]
    assert json.loads((out / "results.json").read_text()) == results


def test_engine_calls_are_recorded_as_dispatch_samples(
    replay_run: tuple[Path, dict[str, Any]],
) -> None:
    """Each engine call of the replay is one dispatch sample; the greedy
    rule calls the engine never."""
    out, results = replay_run
    samples = pd.read_parquet(out / "samples.parquet")
    calls = results["replay"]["plan_calls"]

    assert int((samples["endpoint"] == "dispatch").sum()) == calls
    assert (calls > 0) == (results["replay"]["policy"] == "engine")


def test_committed_replay_scenario_replays_the_shared_sample(
    shared_data: Path, tmp_path: Path
) -> None:
    """scenarios/replay_sample.yaml replays the shared sample instance
    with the engine and delivers every order it assigns by the rules."""
    scenario = load_scenario(
        REPOSITORY / "scenarios" / "replay_sample.yaml",
        ["dispatch.work_limit=10"],
    )

    results = simulate(scenario, tmp_path / "run")

    instance = read_instance(shared_data / "replay" / "sample")
    assert validate_solution(instance, tmp_path / "run") == []
    assert results["replay"]["orders"] == len(instance.orders)
    assert results["replay"]["delivered"] > 0


def test_validator_catches_a_tampered_drop_off(
    replay_run: tuple[Path, dict[str, Any]],
    generated: Path,
    tmp_path: Path,
) -> None:
    """A drop-off time moved by one minute in the orders file breaks the
    rules, and the validator says so: it can fail."""
    out, _ = replay_run
    for name in (
        "solution_info_assignments.txt",
        "solution_info_couriers.txt",
        "solution_info_orders.txt",
    ):
        (tmp_path / name).write_text((out / name).read_text())
    path = tmp_path / "solution_info_orders.txt"
    header, first, *rest = path.read_text().splitlines()
    fields = first.split(" ")
    fields[4] = f"{float(fields[4]) + 1:g}"
    path.write_text("\n".join([header, " ".join(fields), *rest]) + "\n")

    assert validate_solution(read_instance(generated), tmp_path) != []


def test_weighing_drop_off_time_delivers_sooner(shared_data: Path) -> None:
    """The engine policy prices each order's time to drop-off beside
    travel: on the shared sample it delivers as many orders, sooner,
    than planning for travel alone."""
    instance = read_instance(shared_data / "replay" / "sample")
    weighed = replay(instance, EnginePolicy()).measures()
    travel_only = replay(
        instance, EnginePolicy(delivery_weight=0.0)
    ).measures()

    assert EnginePolicy().delivery_weight > 0
    assert weighed["delivered"] >= travel_only["delivered"]
    assert weighed["click_to_door_mean"] < travel_only["click_to_door_mean"]
