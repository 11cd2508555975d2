"""Tests of the storage writer on the simulation's clock: its batches by
size and age in simulated time, real writes charged to that clock, and
the ``storage_slow`` fault."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import simpy

from engine.model import Location
from engine.storage import StorageConfig, StorageFullError, open_storage
from simulator.errors import ScenarioError
from simulator.run import simulate
from simulator.scenario import load_scenario
from simulator.storage import SimulatedWriter

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator
    from typing import Any

    from engine.storage import Storage

SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    """A migrated SQLite store in a temporary folder."""
    store = open_storage(StorageConfig(url=str(tmp_path / "db.sqlite")))
    yield store
    store.close()


def _locations(database: Path) -> list[str]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT driver_id FROM driver_locations ORDER BY rowid"
        ).fetchall()
    return [row[0] for row in rows]


def _writer(
    env: simpy.Environment,
    storage: Storage,
    tmp_path: Path,
    slow: tuple[tuple[float, float, float], ...] = (),
    **config: Any,
) -> SimulatedWriter:
    settings = StorageConfig(url=str(tmp_path / "db.sqlite"), **config)
    writer = SimulatedWriter(env, storage, settings, slow)
    env.process(writer.run())
    return writer


def test_batches_by_size_and_age_in_simulated_time(
    storage: Storage, tmp_path: Path
) -> None:
    """Five saves at t=0 with batches of two: two full batches at once
    and the fifth record, alone, once it is batch_age_s old; every
    record written once, in order."""
    env = simpy.Environment()
    writer = _writer(env, storage, tmp_path, batch_size=2, batch_age_s=10.0)
    for k in range(5):
        writer.save_location(f"d{k}", Location("here", 1.0, 2.0), 0.0)

    env.run(until=5.0)
    assert writer.stats().written == 4
    assert writer.stats().pending == 1

    env.run(until=20.0)
    stats = writer.stats()
    assert (stats.written, stats.batches, stats.pending) == (5, 3, 0)
    assert _locations(tmp_path / "db.sqlite") == [f"d{k}" for k in range(5)]


def test_writes_are_charged_to_the_simulated_clock(
    storage: Storage, tmp_path: Path
) -> None:
    """A batch written inside a storage_slow window is charged its
    factor times its measured time; the durations say so."""
    env = simpy.Environment()
    writer = _writer(
        env, storage, tmp_path, slow=((0.0, 100.0, 1e6),), batch_size=1
    )
    writer.save_location("d0", Location("here", 1.0, 2.0), 0.0)
    env.run(until=1e9)

    (charged,) = writer.stats().durations
    assert charged > 1.0
    assert writer.stats().written == 1


def test_a_full_buffer_refuses_saves(storage: Storage, tmp_path: Path) -> None:
    """While a slow batch is being written, saves fill the buffer up to
    buffer_limit; the next is refused with StorageFullError and counted,
    and everything accepted is written in the end."""
    env = simpy.Environment()
    writer = _writer(
        env,
        storage,
        tmp_path,
        slow=((0.0, 1e9, 1e7),),
        batch_size=2,
        buffer_limit=4,
        batch_age_s=0.1,
    )

    def producer() -> Generator[simpy.Event, Any, None]:
        for k in range(6):
            try:
                writer.save_location(f"d{k}", Location("x", 0.0, 0.0), 0.0)
            except StorageFullError:
                return
            yield env.timeout(1.0)

    env.process(producer())
    env.run(until=100.0)

    assert writer.stats().rejected == 1
    assert writer.stats().accepted == 4
    writer.close()
    assert writer.stats().written == 4


@pytest.mark.timeout(300)
def test_storage_slow_window_raises_batch_time_and_refuses_requests(
    tmp_path: Path,
) -> None:
    """A smoke run with a storage_slow window that stretches writes a
    million-fold and a small buffer: batch times rise, saves are
    refused, refused requests are counted as errors, and the run ends
    with every accepted record written."""
    scenario = load_scenario(
        SMOKE,
        [
            "duration_s=900",
            "engine.storage.backend=sqlite",
            "engine.storage.batch_size=10",
            "engine.storage.buffer_limit=50",
            'faults=[{"kind": "storage_slow", "start_s": 300, '
            '"end_s": 600, "factor": 1000000}]',
        ],
    )
    results = simulate(scenario, tmp_path / "run")

    storage = results["storage"]
    # One batch written in the window is charged a million times its
    # write: at least a second. How many more follow before the run ends
    # depends on this machine's write time, so p99 may not show it.
    assert storage["query"]["max"] > 1.0
    assert storage["rejected"] > 0
    errors = sum(e["errors"] for e in results["endpoints"].values())
    assert errors == storage["rejected"]
    with sqlite3.connect(tmp_path / "run" / "barq.sqlite") as conn:
        plans, locations = (
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("plans", "driver_locations")
        )
    assert plans + locations == storage["writes"]


def test_storage_slow_needs_storage() -> None:
    """A storage_slow fault without storage is refused, naming it."""
    with pytest.raises(ScenarioError, match=r"needs engine\.storage\.backend"):
        load_scenario(
            SMOKE,
            [
                'faults=[{"kind": "storage_slow", "start_s": 0, '
                '"end_s": 60, "factor": 2}]'
            ],
        )
