"""The gate's settings, and how they load from ``gate.yaml``.

The defaults here are those of the repository's ``gate.yaml``; a test
keeps the two equal. Why they are what they are:

``alpha = 0.01`` with Holm's correction
    The gate must raise a false alarm on at most 1% of comparisons of a
    run with itself, and it tests many figures at once (three percentiles
    per endpoint and the throughput). Holm's step-down procedure keeps the
    chance of *any* false alarm among them at ``alpha`` whatever their
    dependence, and is never less powerful than Bonferroni's.
``min_effect = 0.05``
    A regression must also be large: at least 5% in the harmful direction.
    Half of the 10% the gate is validated to catch, so that a true 10%
    change, measured with noise, still clears it nearly always.
``min_effect_s = 0.001``
    A latency regression must also be large in absolute terms: at least
    a millisecond. The p95 of an endpoint that answers in tens of
    microseconds is set by the machine's state (interrupts, the other
    work on its cores) and moved 20% and more between runs of the same
    code on the development machine (docs/benchmarks.md); a change below
    a millisecond matters to no target and would only raise false
    alarms.
``permutations = 400``
    The test reads a standard error off the permutations, which a few
    hundred fix to within a few percent; more cost time in proportion.
``block_s = 60``
    Latency blocks of one simulated minute, the time series' own step:
    longer than a queue's busy period at a sane load, short enough to give
    a day's run hundreds of blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import InputError

SCHEMA = "barq.gate/1"
"""The version of ``gate.yaml`` this reader understands."""

DETERMINISTIC_FIGURES = (
    "kpis.*",
    "caches.*.hits",
    "caches.*.misses",
    "caches.*.hit_ratio",
    "advisor.calls",
    "advisor.outcomes.*",
    "replay.*",
)
"""Figures that a seed fixes, as patterns over dotted paths."""


@dataclass(frozen=True)
class GateConfig:
    """How the gate compares a candidate run with a baseline.

    Parameters
    ----------
    alpha
        Family-wise false-alarm level over all statistical figures.
    min_effect
        Smallest relative change, in the harmful direction, that counts as
        a regression (0.05 is 5%).
    min_effect_s
        Smallest absolute latency change, in seconds, that counts as a
        regression; throughput is judged by ``min_effect`` alone.
    percentiles
        Latency percentiles compared per endpoint.
    permutations
        Permutations of paired blocks per endpoint.
    block_s
        Block length for latency, in simulated seconds.
    throughput_block_s
        Block length for throughput, whose per-minute counts follow the
        day's demand profile and so need longer blocks.
    min_samples
        Fewer requests than this on either side and an endpoint is not
        compared (with a warning).
    min_blocks
        Fewer blocks than this on either side, likewise.
    min_tail
        A percentile is compared only where each side has at least this
        many requests beyond it (p99 then needs 2,500 requests): the
        spread of a percentile with a handful of samples beyond it is
        too coarse to judge it by.
    min_replications
        Replications needed on both sides to compare replication against
        replication, which accounts for the machine's run-to-run noise;
        with fewer, samples are compared within the runs, which cannot
        tell a busier machine from slower code.
    seed
        Seed of the permutations, so that the gate's verdict is repeatable.
    deterministic
        Patterns (``fnmatch`` over dotted paths such as
        ``kpis.on_time_ratio``) of figures compared exactly.
    tolerances
        ``(pattern, relative tolerance)`` pairs; the first pattern that
        matches a figure sets its tolerance.
    default_tolerance
        Relative tolerance of deterministic figures no pattern names.
    thresholds, check_deterministic, check_statistical
        Which checks run.
    confirm
        On a suspected statistical regression, re-run both sides (when the
        caller can) and fail only if it holds again.
    """

    alpha: float = 0.01
    min_effect: float = 0.05
    min_effect_s: float = 0.001
    percentiles: tuple[float, ...] = (50.0, 95.0, 99.0)
    permutations: int = 400
    block_s: float = 60.0
    throughput_block_s: float = 600.0
    min_samples: int = 100
    min_blocks: int = 5
    min_tail: int = 25
    min_replications: int = 3
    seed: int = 0
    deterministic: tuple[str, ...] = DETERMINISTIC_FIGURES
    tolerances: tuple[tuple[str, float], ...] = ()
    default_tolerance: float = 0.0
    thresholds: bool = True
    check_deterministic: bool = True
    check_statistical: bool = True
    confirm: bool = True

    def __post_init__(self) -> None:
        source = "gate config"
        if not 0 < self.alpha < 0.5:
            raise InputError(
                source, "alpha", self.alpha, "must be in (0, 0.5)"
            )
        if not (math.isfinite(self.min_effect) and self.min_effect >= 0):
            raise InputError(
                source, "min_effect", self.min_effect, "must be >= 0"
            )
        if not (math.isfinite(self.min_effect_s) and self.min_effect_s >= 0):
            raise InputError(
                source, "min_effect_s", self.min_effect_s, "must be >= 0"
            )
        if not self.percentiles or not all(
            0 < q < 100 for q in self.percentiles
        ):
            raise InputError(
                source,
                "percentiles",
                self.percentiles,
                "must be one or more numbers in (0, 100)",
            )
        for name in (
            "permutations",
            "min_samples",
            "min_blocks",
            "min_tail",
            "min_replications",
        ):
            if getattr(self, name) < 2:
                raise InputError(
                    source, name, getattr(self, name), "must be >= 2"
                )
        for name in ("block_s", "throughput_block_s"):
            if not getattr(self, name) > 0:
                raise InputError(
                    source, name, getattr(self, name), "must be > 0"
                )
        for pattern, tolerance in self.tolerances:
            if not tolerance >= 0:
                raise InputError(
                    source, f"tolerances.{pattern}", tolerance, "must be >= 0"
                )
        if not self.default_tolerance >= 0:
            raise InputError(
                source,
                "default_tolerance",
                self.default_tolerance,
                "must be >= 0",
            )


LAYOUT: dict[str, dict[str, str]] = {
    "checks": {
        "thresholds": "thresholds",
        "deterministic": "check_deterministic",
        "statistical": "check_statistical",
        "confirm": "confirm",
    },
    "statistical": {
        "alpha": "alpha",
        "min_effect": "min_effect",
        "min_effect_s": "min_effect_s",
        "percentiles": "percentiles",
        "permutations": "permutations",
        "block_s": "block_s",
        "throughput_block_s": "throughput_block_s",
        "min_samples": "min_samples",
        "min_blocks": "min_blocks",
        "min_tail": "min_tail",
        "min_replications": "min_replications",
        "seed": "seed",
    },
    "deterministic": {
        "figures": "deterministic",
        "default_tolerance": "default_tolerance",
        "tolerances": "tolerances",
    },
}
"""Sections and keys of ``gate.yaml``, and the field each one sets."""


def load_config(path: Path) -> GateConfig:
    """Read a ``gate.yaml``; keys it leaves out keep their defaults.

    Raises
    ------
    InputError
        Naming the file, the key and the value, for an unreadable file,
        an unknown key, or a value of the wrong type or range.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(
            path, "", error.strerror, "must be a readable YAML file"
        ) from None
    except yaml.YAMLError as error:
        raise InputError(path, "", str(error), "must be valid YAML") from None
    return config_from_dict(data if data is not None else {}, path)


def config_from_dict(data: object, source: Path | str) -> GateConfig:
    """A :class:`GateConfig` from parsed ``gate.yaml`` data."""
    if not isinstance(data, dict):
        raise InputError(source, "", data, "must be a mapping of sections")
    if data.get("schema", SCHEMA) != SCHEMA:
        raise InputError(
            source, "schema", data["schema"], f"must be {SCHEMA!r}"
        )

    values: dict[str, Any] = {}
    for section, entries in data.items():
        if section == "schema":
            continue
        if section not in LAYOUT:
            allowed = ", ".join(["schema", *LAYOUT])
            raise InputError(source, section, entries, f"allowed: {allowed}")
        if not isinstance(entries, dict):
            raise InputError(source, section, entries, "must be a mapping")
        for key, value in entries.items():
            if key not in LAYOUT[section]:
                allowed = ", ".join(LAYOUT[section])
                raise InputError(
                    source, f"{section}.{key}", value, f"allowed: {allowed}"
                )
            name = LAYOUT[section][key]
            values[name] = _convert(source, f"{section}.{key}", name, value)

    try:
        return GateConfig(**values)
    except InputError as error:
        where = _yaml_path(error.path)
        raise InputError(source, where, error.value, error.allowed) from None


def _convert(source: Path | str, where: str, name: str, value: Any) -> Any:
    default = {f.name: f.default for f in fields(GateConfig)}[name]
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise InputError(source, where, value, "must be true or false")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(source, where, value, "must be a number")
        if isinstance(default, int) and not isinstance(value, int):
            raise InputError(source, where, value, "must be a whole number")
        return value
    if name == "tolerances":
        if not isinstance(value, dict):
            raise InputError(
                source, where, value, "must map figure patterns to numbers"
            )
        return tuple(
            (str(k), _number(source, f"{where}.{k}", v))
            for k, v in value.items()
        )
    if not isinstance(value, list) or not value:
        raise InputError(source, where, value, "must be a non-empty list")
    if name == "percentiles":
        return tuple(
            _number(source, f"{where}[{i}]", v) for i, v in enumerate(value)
        )
    return tuple(str(v) for v in value)


def _number(source: Path | str, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, where, value, "must be a number")
    return float(value)


def _yaml_path(name: str) -> str:
    field_name = name.split(".", 1)[0]
    rest = name[len(field_name) :]
    for section, entries in LAYOUT.items():
        for key, target in entries.items():
            if target == field_name:
                return f"{section}.{key}{rest}"
    return name
