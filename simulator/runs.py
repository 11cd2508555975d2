"""Run directories, read back.

A run directory is what ``barq simulate`` and ``barq load`` leave behind
(see the design's "What a run writes"):

``results.json``
    Every figure of the run, schema ``barq.results/1``.
``samples.parquet``
    One row per request: ``endpoint``, ``arrival_s``, ``wait_s``,
    ``service_s``, ``latency_s``, ``outcome`` and optional stage columns.
``orders.parquet``, ``timeseries.parquet``
    One row per order and one per simulated minute; both optional.
``rep-<seed>/``
    With replications, each replication's own full run directory, listed
    in ``results.json`` under ``replications`` beside an ``aggregate``
    that holds every figure as a mean with a 95% confidence interval.

:func:`load_run` reads and checks all of it, so that the report, the gate
and the history find the same figures in the same place and never
re-derive one.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.errors import InputError

log = logging.getLogger(__name__)

SCHEMA = "barq.results/1"
"""The version of ``results.json`` this reader understands."""

RESULTS = "results.json"
SAMPLES = "samples.parquet"
ORDERS = "orders.parquet"
TIMESERIES = "timeseries.parquet"

REQUIRED_FIELDS = (
    "scenario.name",
    "scenario.file_hash",
    "scenario.seed",
    "run.started_at",
    "run.git_revision",
    "run.machine.fingerprint",
    "run.wall_s",
    "run.simulated_s",
    "run.speed",
    "endpoints",
    "throughput.mean",
    "throughput.peak",
    "caches",
    "advisor.calls",
    "advisor.outcomes",
    "advisor.fallback_share",
    "advisor.latency",
    "storage",
    "kpis",
)
"""Dotted paths every ``results.json`` must hold."""

ENDPOINT_FIGURES = ("count", "errors", "mean", "p50", "p95", "p99", "max")
"""The figures of each endpoint, in seconds but for the two counts."""

SAMPLE_COLUMNS = (
    "endpoint",
    "arrival_s",
    "wait_s",
    "service_s",
    "latency_s",
    "outcome",
)
"""Columns every ``samples.parquet`` must have."""

FIGURE_SECTIONS = (
    "endpoints",
    "throughput",
    "caches",
    "advisor",
    "storage",
    "kpis",
    "replay",
)
"""The sections of ``results.json`` that hold measured figures."""


@dataclass(frozen=True)
class Estimate:
    """A figure as a mean over replications, with its 95% interval.

    A run without replications gives its one value, no interval, and that
    value alone in ``values``.
    """

    mean: float | None
    ci95: tuple[float, float] | None
    values: tuple[float, ...]


@dataclass(frozen=True)
class Run:
    """One run directory, read and checked.

    Parameters
    ----------
    path
        The run directory.
    results
        ``results.json`` as parsed.
    samples
        Every request; for a run with replications and no top-level
        samples file, the replications' samples one after another with a
        ``replication`` column holding the seed.
    orders, timeseries
        The optional per-order and per-minute tables, or ``None``.
    replications
        The replications' own runs, in the order ``results.json`` lists
        them; empty for a single run.
    """

    path: Path
    results: dict[str, Any] = field(repr=False)
    samples: pd.DataFrame = field(repr=False)
    orders: pd.DataFrame | None = field(repr=False)
    timeseries: pd.DataFrame | None = field(repr=False)
    replications: tuple[Run, ...] = ()

    @property
    def scenario(self) -> str:
        """The scenario's name."""
        return str(self.results["scenario"]["name"])

    @property
    def fingerprint(self) -> str:
        """The machine fingerprint the run was measured on."""
        return str(self.results["run"]["machine"]["fingerprint"])

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds of the replications, or the run's own seed."""
        if self.replications:
            return tuple(
                int(rep.results["scenario"]["seed"])
                for rep in self.replications
            )
        return (int(self.results["scenario"]["seed"]),)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The endpoint names, sorted."""
        return tuple(sorted(self.results["endpoints"]))

    @property
    def has_storage(self) -> bool:
        """Whether the run had durable storage attached.

        ``storage`` is null in ``results.json`` for a run without it (a
        scenario with ``engine.storage.backend: none``); its figures
        are then absent, not zero.
        """
        return isinstance(self.results["storage"], dict)

    @property
    def targets(self) -> dict[str, Any]:
        """The scenario's targets, or an empty mapping."""
        targets = self.results.get("targets")
        return targets if isinstance(targets, dict) else {}

    @property
    def faults(self) -> tuple[tuple[str, float, float], ...]:
        """Fault windows as ``(kind, start_s, end_s)``."""
        faults = self.results.get("faults") or []
        return tuple(
            (str(f["kind"]), float(f["start_s"]), float(f["end_s"]))
            for f in faults
        )

    def figure(self, *keys: str) -> float | None:
        """The number at a path of keys in ``results.json``.

        ``None`` where the path is absent or holds no finite number.
        """
        return _number(_lookup(self.results, keys))

    def estimate(self, *keys: str) -> Estimate:
        """A figure as the mean over replications with its interval.

        Reads ``aggregate`` where the run has replications and the
        aggregate holds the figure; otherwise the figure itself.
        """
        entry = _lookup(self.results.get("aggregate"), keys)
        if isinstance(entry, dict) and "mean" in entry:
            ci = entry.get("ci95")
            interval = None
            if isinstance(ci, list | tuple) and len(ci) == 2:
                low, high = _number(ci[0]), _number(ci[1])
                if low is not None and high is not None:
                    interval = (low, high)
            values = tuple(
                v
                for v in (_number(x) for x in entry.get("values") or [])
                if v is not None
            )
            return Estimate(_number(entry["mean"]), interval, values)

        value = self.figure(*keys)
        return Estimate(value, None, () if value is None else (value,))

    def figures(self) -> dict[str, float]:
        """Every measured number as ``{dotted path: value}``.

        Only the sections listed in :data:`FIGURE_SECTIONS` count; the
        scenario, run metadata, targets and aggregate do not. Names that
        hold a dot make paths that cannot be told apart from nesting;
        endpoint and cache names are expected without one.
        """
        flat: dict[str, float] = {}
        for section in FIGURE_SECTIONS:
            _flatten(self.results.get(section), section, flat)
        return flat

    def sample_sets(self) -> tuple[pd.DataFrame, ...]:
        """The samples of each replication, or the run's own samples.

        Samples of different replications are independent; samples within
        one run are not, so statistics resample within each set.
        """
        if self.replications:
            return tuple(rep.samples for rep in self.replications)
        return (self.samples,)


def load_run(path: Path) -> Run:
    """Read and check a run directory, and its replications if any.

    Raises
    ------
    InputError
        Naming the file, the field and the value, when the directory or
        ``results.json`` is missing, the JSON is malformed, the schema is
        not ``barq.results/1``, a required field is absent or not a
        number, or a Parquet file lacks a required column.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError(
            path, "", str(path), "must be a run directory (with results.json)"
        )
    results = _read_results(path / RESULTS)
    replications = tuple(
        _load_replication(path, entry, index)
        for index, entry in enumerate(results.get("replications") or [])
    )
    if replications and not isinstance(results.get("aggregate"), dict):
        raise InputError(
            path / RESULTS,
            "aggregate",
            results.get("aggregate"),
            "a run with replications must hold an aggregate mapping",
        )

    samples_path = path / SAMPLES
    if samples_path.exists() or not replications:
        samples = _read_samples(samples_path)
    else:
        samples = pd.concat(
            [
                rep.samples.assign(replication=rep.seeds[0])
                for rep in replications
            ],
            ignore_index=True,
        )

    log.debug("read run %s (%d samples)", path, len(samples))
    return Run(
        path=path,
        results=results,
        samples=samples,
        orders=_read_optional(path / ORDERS),
        timeseries=_read_optional(path / TIMESERIES),
        replications=replications,
    )


def _read_results(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise InputError(
            file, "", "missing", "a run directory must hold results.json"
        )
    try:
        results = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(
            file, f"line {error.lineno}", error.msg, "must be valid JSON"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            file, "", str(error), "must be a readable UTF-8 file"
        ) from None

    if not isinstance(results, dict):
        raise InputError(
            file, "", type(results).__name__, "must be a JSON object"
        )
    if results.get("schema") != SCHEMA:
        raise InputError(
            file, "schema", results.get("schema"), f"must be {SCHEMA!r}"
        )
    _check_fields(file, results)
    return results


def _check_fields(file: Path, results: dict[str, Any]) -> None:
    missing = object()
    for dotted in REQUIRED_FIELDS:
        value = _lookup(results, tuple(dotted.split(".")), missing)
        if value is missing:
            raise InputError(file, dotted, "missing", "a required field")

    for section in ("endpoints", "caches", "kpis"):
        if not isinstance(results[section], dict):
            raise InputError(
                file, section, results[section], "must be a mapping"
            )
    if results["storage"] is not None and not isinstance(
        results["storage"], dict
    ):
        raise InputError(
            file,
            "storage",
            results["storage"],
            "must be a mapping, or null for a run without storage",
        )
    for name, figures in results["endpoints"].items():
        where = f"endpoints.{name}"
        if not isinstance(figures, dict):
            raise InputError(file, where, figures, "must be a mapping")
        for key in ENDPOINT_FIGURES:
            value = figures.get(key, missing)
            if value is missing:
                raise InputError(
                    file, f"{where}.{key}", "missing", "a required field"
                )
            if value is not None and not _is_number(value):
                raise InputError(
                    file, f"{where}.{key}", value, "must be a number or null"
                )


def _load_replication(path: Path, entry: object, index: int) -> Run:
    where = f"replications[{index}]"
    if not (isinstance(entry, dict) and isinstance(entry.get("dir"), str)):
        raise InputError(
            path / RESULTS, where, entry, "must be {seed, dir} with dir a path"
        )
    directory = path / entry["dir"]
    if not directory.is_dir():
        raise InputError(
            path / RESULTS,
            f"{where}.dir",
            entry["dir"],
            "must name a replication directory inside the run directory",
        )
    return load_run(directory)


def _read_samples(file: Path) -> pd.DataFrame:
    if not file.is_file():
        raise InputError(
            file, "", "missing", "a run directory must hold samples.parquet"
        )
    samples = _read_parquet(file)
    for column in SAMPLE_COLUMNS:
        if column not in samples.columns:
            raise InputError(file, column, "missing", "a required column")
    for column in SAMPLE_COLUMNS[1:5]:
        if not pd.api.types.is_numeric_dtype(samples[column]):
            raise InputError(
                file,
                column,
                str(samples[column].dtype),
                "must be a numeric column",
            )
    return samples


def _read_optional(file: Path) -> pd.DataFrame | None:
    return _read_parquet(file) if file.is_file() else None


def _read_parquet(file: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(file)
    except (OSError, ValueError) as error:
        raise InputError(
            file, "", str(error), "must be a readable Parquet file"
        ) from None


def _lookup(
    data: object, keys: tuple[str, ...], default: object = None
) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: object) -> float | None:
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _flatten(data: object, prefix: str, flat: dict[str, float]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            _flatten(value, f"{prefix}.{key}", flat)
        return
    value = _number(data)
    if value is not None:
        flat[prefix] = value
