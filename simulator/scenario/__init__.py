"""Scenarios: validated YAML descriptions of a simulated day.

:func:`load_scenario` reads a file (following ``extends``), applies
command-line overrides and validates the result into a frozen
:class:`Scenario`; :func:`scenario_hash` fingerprints its content.
docs/scenarios.md documents every field with its unit and default.
"""

from simulator.scenario.fields import Distribution
from simulator.scenario.loader import load_scenario, scenario_hash
from simulator.scenario.model import PATH_FIELDS, Scenario
from simulator.scenario.service import (
    AdvisorSettings,
    ApiMixConfig,
    BreakerSettings,
    DispatchConfig,
    EndpointTargets,
    EngineConfig,
    Fault,
    LatencySettings,
    LatencyTarget,
    StorageSettings,
    Targets,
)
from simulator.scenario.workload import (
    CityConfig,
    CsvSettings,
    DemandConfig,
    FleetConfig,
    MerchantSettings,
    OsmSettings,
    Point,
    QuantitySettings,
    ReplayConfig,
    ShiftSettings,
    StartSettings,
    SyntheticSettings,
    zone_ids,
)

__all__ = [
    "PATH_FIELDS",
    "AdvisorSettings",
    "ApiMixConfig",
    "BreakerSettings",
    "CityConfig",
    "CsvSettings",
    "DemandConfig",
    "DispatchConfig",
    "Distribution",
    "EndpointTargets",
    "EngineConfig",
    "Fault",
    "FleetConfig",
    "LatencySettings",
    "LatencyTarget",
    "MerchantSettings",
    "OsmSettings",
    "Point",
    "QuantitySettings",
    "ReplayConfig",
    "Scenario",
    "ShiftSettings",
    "StartSettings",
    "StorageSettings",
    "SyntheticSettings",
    "Targets",
    "load_scenario",
    "scenario_hash",
    "zone_ids",
]
