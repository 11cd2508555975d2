"""The scenario: one validated description of a city, a day and a service.

A scenario either generates its workload (``city``, ``demand`` and
``fleet``) or replays a benchmark instance (``replay``); the other
sections describe the dispatcher, the requests beside it, the engine,
the faults to inject and the targets to judge the run against.
"""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 (pydantic reads it at runtime)
from typing import Annotated

from pydantic import Field, Strict, model_validator
from pydantic.json_schema import SkipJsonSchema  # noqa: TC002 (as above)

from simulator.scenario.fields import (
    MISSING,
    Positive,
    RuleError,
    Section,
    Str,
)
from simulator.scenario.service import (
    ApiMixConfig,
    DispatchConfig,
    EngineConfig,
    Fault,
    Targets,
)
from simulator.scenario.workload import (
    CityConfig,
    DemandConfig,
    FleetConfig,
    HourOfDay,
    ReplayConfig,
    zone_ids,
)

PATH_FIELDS: tuple[tuple[str, ...], ...] = (
    ("city", "csv", "nodes"),
    ("city", "csv", "edges"),
    ("city", "osm", "path"),
    ("replay", "instance"),
)
"""Fields that hold a path; a relative one is resolved against the
directory of the file that set it."""


class Scenario(Section):
    """A simulated day: workload, dispatcher, engine, faults and targets.

    Build one with :func:`~simulator.scenario.load_scenario`, which reads
    YAML, follows ``extends``, applies overrides and turns validation
    errors into :class:`~simulator.errors.ScenarioError`.
    """

    name: Str
    """Short name, used in run directories and reports."""

    description: Str = ""
    """What the scenario is for, in a sentence or two."""

    seed: Annotated[int, Strict(), Field(ge=0)] = 0
    """Seed of every random stream of the run."""

    duration_s: Positive
    """Length of the run (simulated seconds)."""

    start_hour: HourOfDay = 0.0
    """Hour of the day at simulated time 0 (0 to 24)."""

    city: CityConfig | None = None
    """The road network; required unless ``replay`` is set."""

    demand: DemandConfig | None = None
    """The orders; required unless ``replay`` is set."""

    fleet: FleetConfig | None = None
    """The drivers; required unless ``replay`` is set."""

    replay: ReplayConfig | None = None
    """A benchmark instance to replay instead of ``city``, ``demand`` and
    ``fleet``."""

    dispatch: DispatchConfig = DispatchConfig()
    """The dispatcher."""

    api: ApiMixConfig = ApiMixConfig()
    """Requests beside dispatch."""

    engine: EngineConfig = EngineConfig()
    """The engine under test."""

    faults: tuple[Fault, ...] = ()
    """Windows in which something goes wrong."""

    targets: Targets = Targets()
    """Service-level targets."""

    source: SkipJsonSchema[Path | None] = Field(default=None, exclude=True)
    """The file the scenario was loaded from; set by the loader, not part
    of the scenario's content or hash."""

    @model_validator(mode="after")
    def _workload_is_generated_or_replayed(self) -> Scenario:
        generated = {
            "city": self.city,
            "demand": self.demand,
            "fleet": self.fleet,
        }
        for name, section in generated.items():
            if self.replay is None and section is None:
                raise RuleError(
                    name, MISSING, "is required unless replay is set"
                )
            if self.replay is not None and section is not None:
                raise RuleError(
                    name,
                    "(a section)",
                    "must be left out (or null) when replay is set: the "
                    "replay brings its own city, demand and fleet",
                )
        return self

    @model_validator(mode="after")
    def _faults_fit(self) -> Scenario:
        for k, fault in enumerate(self.faults):
            if fault.start_s >= self.duration_s:
                raise RuleError(
                    f"faults[{k}].start_s",
                    fault.start_s,
                    f"must be < duration_s ({self.duration_s:g})",
                )
            if fault.kind == "redis_down" and (
                self.engine.cache.get("backend") != "redis"
            ):
                raise RuleError(
                    f"faults[{k}].kind",
                    fault.kind,
                    "needs engine.cache.backend: redis",
                )
            if (
                fault.kind == "storage_slow"
                and self.engine.storage.backend == "none"
            ):
                raise RuleError(
                    f"faults[{k}].kind",
                    fault.kind,
                    "needs engine.storage.backend: sqlite or postgresql",
                )
            if fault.kind == "storage_slow" and self.replay is not None:
                raise RuleError(
                    f"faults[{k}].kind",
                    fault.kind,
                    "cannot refuse a replay's dispatch, which the "
                    "benchmark's rules require to be made",
                )
            if fault.kind == "demand_spike" and self.replay is not None:
                raise RuleError(
                    f"faults[{k}].kind",
                    fault.kind,
                    "cannot change a replay's demand",
                )
        return self

    @model_validator(mode="after")
    def _zones_exist(self) -> Scenario:
        if self.city is None:
            return self
        known = set(zone_ids(self.city.zones))
        allowed = (
            f"must be a zone of city.zones: {self.city.zones} "
            f"(z0-0 to z{self.city.zones - 1}-{self.city.zones - 1})"
        )
        if self.demand is not None:
            for zone in self.demand.merchants.zone_weights:
                if zone not in known:
                    raise RuleError(
                        f"demand.merchants.zone_weights.{zone}", zone, allowed
                    )
        if self.fleet is not None:
            for k, zone in enumerate(self.fleet.start.zones):
                if zone not in known:
                    raise RuleError(f"fleet.start.zones[{k}]", zone, allowed)
        return self
