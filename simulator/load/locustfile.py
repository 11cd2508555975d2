"""The Locust side of a load run: the users, the shape, and the hooks.

``barq load`` runs this file as a library. Locust's own command line
runs it too, alone or distributed over a master and workers, with the
run's knobs as options or environment variables (docs/load.md)::

    BARQ_SCENARIO=scenarios/baseline.yaml BARQ_DURATION=600 \\
        locust -f simulator/load/locustfile.py --headless \\
        --host http://127.0.0.1:8000

The options (each also an environment variable): ``--barq-scenario``
(``BARQ_SCENARIO``, required), ``--barq-set`` (``BARQ_SET``, overrides
``F=V`` separated by ``;``), ``--barq-users`` (``BARQ_USERS``, over all
workers), ``--barq-duration`` (``BARQ_DURATION``, wall seconds of the
compressed span), ``--barq-rate`` (``BARQ_RATE``, requests per second at
the peak) and ``--barq-seed`` (``BARQ_SEED``).

The shape, not ``-u`` or ``-t``, sets the users and the run's length;
the master passes the options on to its workers. Each process that
runs users logs its sends, late sends and missed arrivals when it
stops, and a master logs the totals its workers reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
import numpy as np
from locust import LoadTestShape, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner, WorkerRunner

from simulator.errors import InputError
from simulator.load.schedule import LATE_AFTER_S, Record, Schedule
from simulator.load.settings import (
    DEFAULT_DURATION_S,
    DEFAULT_USERS,
    LoadSettings,
)
from simulator.load.shape import CompressedDay
from simulator.load.traffic import CallSource, Traffic, judge
from simulator.scenario import load_scenario

if TYPE_CHECKING:
    from argparse import Namespace

    from locust.env import Environment

    from simulator.load.traffic import Call
    from simulator.scenario import Scenario

log = logging.getLogger(__name__)

IDLE_S = 0.1
"""How long a user with no arrival left waits before looking again."""

NETWORK_TIMEOUT_S = 10.0
"""A request without an answer by then is recorded as an error."""

STOP_TIMEOUT_S = NETWORK_TIMEOUT_S + 5.0
"""How long users may finish their sends once the run's span is over."""


@dataclass
class Load:
    """What one process needs to send its share of a run."""

    settings: LoadSettings
    scenario: Scenario
    seed: int
    traffic: CallSource
    day: CompressedDay
    schedule: Schedule
    record: Record
    rng: np.random.Generator
    """The stream the requests' contents are drawn from."""


LOAD: Load | None = None
"""This process's run: set by :func:`configure`, or on the test's start
from the command line's options."""

LOCUST_OPTIONS = {
    "--target": "--host",
    "--users": "--barq-users",
    "--duration": "--barq-duration",
    "--rate": "--barq-rate",
    "--seed": "--barq-seed",
}
"""``barq load``'s options as Locust's command line spells them."""

REPORTED: dict[str, dict[str, int]] = {}
"""On a master: each worker's last report of its sends."""


def prepare(
    settings: LoadSettings,
    scenario: Scenario,
    worker: int = 0,
    distributed: bool = False,
    calls: CallSource | None = None,
) -> Load:
    """The run of ``settings`` on worker ``worker``: the city of the
    scenario (or ``calls`` instead, at ``settings.rate``), its
    compressed day and the schedule of this process's arrivals (a share
    of the run's when ``distributed``)."""
    seed = scenario.seed if settings.seed is None else settings.seed
    traffic: CallSource
    if calls is None:
        traffic = Traffic(scenario, seed)
        rate = settings.rate or traffic.natural_peak()
    elif settings.rate is None:
        raise InputError("--rate", "", None, "is required with fixed calls")
    else:
        traffic, rate = calls, settings.rate
    day = CompressedDay.of(scenario, settings.duration_s, rate)
    streams = np.random.SeedSequence([seed, worker]).spawn(2)
    return Load(
        settings=settings,
        scenario=scenario,
        seed=seed,
        traffic=traffic,
        day=day,
        schedule=Schedule(
            day,
            np.random.default_rng(streams[0]),
            settings.users if distributed else None,
        ),
        record=Record(),
        rng=np.random.default_rng(streams[1]),
    )


def configure(load: Load) -> None:
    """Make ``load`` this process's run (``barq load`` does so before it
    starts Locust)."""
    global LOAD
    LOAD = load


def current() -> Load:
    """This process's run."""
    if LOAD is None:
        raise RuntimeError("no load run configured in this process")
    return LOAD


class CityUser(FastHttpUser):
    """One concurrent sender: takes the next arrival of the schedule,
    waits for its instant, sends the city's request of that moment and
    records the answer."""

    network_timeout = NETWORK_TIMEOUT_S
    connection_timeout = NETWORK_TIMEOUT_S

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self._more = True

    def wait_time(self) -> float:
        """No pause between sends; a pause once the schedule is done."""
        return 0.0 if self._more else IDLE_S

    def on_start(self) -> None:
        """Join this process's senders."""
        current().schedule.users += 1

    def on_stop(self) -> None:
        """Leave this process's senders."""
        current().schedule.users -= 1

    @task
    def send(self) -> None:
        """Send the next arrival of the schedule."""
        load = current()
        due = load.schedule.take()
        if due is None:
            self._more = False
            return
        simulated = load.day.simulated(due)
        call = load.traffic.call(simulated, load.rng)
        if call is None:
            load.record.skipped += 1
            return

        delay = due - load.schedule.now()
        if delay > 0:
            gevent.sleep(delay)
        started = load.schedule.now()
        status, outcome, cache = self._request(call)
        finished = load.schedule.now()
        load.record.add(
            call.endpoint,
            due,
            started - due,
            finished - started,
            outcome,
            cache,
            status,
            simulated,
        )

    def _request(self, call: Call) -> tuple[int, str, str]:
        headers = {"Content-Type": "application/json"} if call.body else {}
        with self.client.request(
            call.method,
            call.path,
            name=call.endpoint,
            data=call.body,
            headers=headers,
            catch_response=True,
        ) as response:
            status = int(response.status_code or 0)
            outcome, cache = judge(call.endpoint, status, response.content)
            if outcome == "error":
                response.failure(f"HTTP {status}")
            else:
                response.success()
        return status, outcome, cache


class CompressedDayShape(LoadTestShape):
    """Every user from the first second until the compressed span is
    over; the rate within it is the schedule's, which follows the
    scenario's order rate."""

    def tick(self) -> tuple[int, float] | None:
        """The run's users, or ``None`` once its duration has passed."""
        settings = _settings(self._environment())
        if self.get_run_time() >= settings.duration_s:
            return None
        return settings.users, float(settings.users)

    def _environment(self) -> Environment:
        assert self.runner is not None
        return self.runner.environment


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    add = parser.add_argument_group("barq load").add_argument
    add(
        "--barq-scenario",
        env_var="BARQ_SCENARIO",
        default="",
        help="scenario file whose city sends the requests",
    )
    add(
        "--barq-set",
        env_var="BARQ_SET",
        default="",
        help="scenario overrides FIELD.PATH=VALUE, separated by ';'",
    )
    add(
        "--barq-users",
        env_var="BARQ_USERS",
        type=int,
        default=DEFAULT_USERS,
        help="concurrent senders over all workers",
    )
    add(
        "--barq-duration",
        env_var="BARQ_DURATION",
        type=float,
        default=DEFAULT_DURATION_S,
        help="wall seconds the scenario's span is compressed into",
    )
    add(
        "--barq-rate",
        env_var="BARQ_RATE",
        type=float,
        default=None,
        help="requests per second at the peak (default: the scenario's)",
    )
    add(
        "--barq-seed",
        env_var="BARQ_SEED",
        type=int,
        default=None,
        help="seed of the city and the requests (default: the scenario's)",
    )


@events.init.add_listener
def _check(environment: Environment, **_: Any) -> None:
    if not environment.stop_timeout:
        environment.stop_timeout = STOP_TIMEOUT_S
    if LOAD is None and not isinstance(environment.runner, WorkerRunner):
        try:
            _settings(environment)
        except InputError as error:
            log.error("barq load: %s", error)
            raise SystemExit(2) from None


@events.test_start.add_listener
def _start(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return
    if LOAD is None:
        settings = _settings(environment)
        scenario = load_scenario(settings.scenario, settings.overrides)
        if isinstance(runner, WorkerRunner):
            load = prepare(
                settings,
                scenario,
                worker=max(runner.worker_index, 0),
                distributed=True,
            )
        else:
            load = prepare(settings, scenario)
        configure(load)
    current().schedule.start()


@events.test_stop.add_listener
def _stop(environment: Environment, **_: Any) -> None:
    if LOAD is not None:
        record = LOAD.record
        log.info(
            "barq load: sent %d requests, %d late (> %g s), %d skipped, "
            "%d missed",
            record.sent,
            record.late,
            LATE_AFTER_S,
            record.skipped,
            LOAD.schedule.missed(),
        )


@events.quitting.add_listener
def _totals(environment: Environment, **_: Any) -> None:
    # A master hears its workers' last reports only after the test has
    # stopped, so it tells their totals as it quits.
    if not isinstance(environment.runner, MasterRunner):
        return
    totals = {
        key: sum(report[key] for report in REPORTED.values())
        for key in ("sent", "late", "skipped", "missed")
    }
    log.info(
        "barq load: %d workers sent %d requests, %d late (> %g s), "
        "%d skipped, %d missed",
        len(REPORTED),
        totals["sent"],
        totals["late"],
        LATE_AFTER_S,
        totals["skipped"],
        totals["missed"],
    )


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any]) -> None:
    if LOAD is not None:
        record = LOAD.record
        data["barq"] = {
            "sent": record.sent,
            "late": record.late,
            "skipped": record.skipped,
            "missed": LOAD.schedule.missed_so_far,
        }


@events.worker_report.add_listener
def _collect(client_id: str, data: dict[str, Any]) -> None:
    if "barq" in data:
        REPORTED[client_id] = data["barq"]


def _settings(environment: Environment) -> LoadSettings:
    """The run's settings: those configured, else the options."""
    if LOAD is not None:
        return LOAD.settings
    options: Namespace | None = environment.parsed_options
    if not environment.host:
        raise InputError("--host", "", "", "must be the service's base URL")
    if options is None or not options.barq_scenario:
        raise InputError(
            "--barq-scenario",
            "",
            "",
            "must name a scenario file (or set BARQ_SCENARIO)",
        )
    try:
        return LoadSettings(
            scenario=Path(options.barq_scenario),
            target=environment.host,
            users=options.barq_users,
            duration_s=options.barq_duration,
            rate=options.barq_rate,
            seed=options.barq_seed,
            overrides=tuple(
                item.strip()
                for item in options.barq_set.split(";")
                if item.strip()
            ),
        )
    except InputError as error:
        # Named as this command line spells the option.
        option = LOCUST_OPTIONS.get(error.source, error.source)
        raise InputError(
            option, error.path, error.value, error.allowed
        ) from None
