"""Run history: every run's figures over time, and where they changed.

``barq history add RUN_DIR`` stores a run's figures; ``barq history show
--scenario NAME`` prints the series of its headline figures and the
change points found in them.

Where the history lives
    ``None`` as the URL means a SQLite file at
    ``$XDG_DATA_HOME/barq/history.sqlite`` (``~/.local/share/barq/`` when
    the variable is unset): the history outlives any one checkout or run
    directory, so it belongs to the user, not to the repository. A path
    or ``sqlite:///path`` names another SQLite file; a
    ``postgresql://`` URL stores it in PostgreSQL (through psycopg 3).
    Both hold two tables, ``barq_history_runs`` and
    ``barq_history_figures`` (one row per run and figure), created when
    first needed.

Change points
    Found with MongoDB's E-Divisive means (the package
    ``signal-processing-algorithms``; Matteson and James, 2014, "A
    nonparametric approach for multiple change point analysis of
    multivariate data", JASA 109(505)), with its permutation test at
    :data:`CHANGE_POINT_P` and its random permutations seeded, so that the
    same history shows the same changes. Each is reported with the run
    where the new level began.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from simulator.errors import InputError, SimulatorError
from simulator.runs import RESULTS, load_run

if TYPE_CHECKING:
    from collections.abc import Sequence

    from simulator.runs import Run

log = logging.getLogger(__name__)

RUNS_TABLE = "barq_history_runs"
FIGURES_TABLE = "barq_history_figures"

CHANGE_POINT_P = 0.05
"""Significance of E-Divisive's permutation test for a change point."""

CHANGE_POINT_PERMUTATIONS = 100
MIN_POINTS = 5
"""Fewer runs than this and no change points are sought."""

HEADLINE = (
    "endpoints.*.p95",
    "throughput.mean",
    "kpis.on_time_ratio",
    "advisor.fallback_share",
)
"""The figures ``history show`` prints, as patterns over dotted paths."""

EXIT_OK = 0
EXIT_BAD_INPUT = 2


@dataclass(frozen=True)
class StoredRun:
    """One run in the history, with its figures."""

    run_id: int
    scenario: str
    started_at: str
    git_revision: str
    fingerprint: str
    path: str
    figures: dict[str, float]


@dataclass(frozen=True)
class ChangePoint:
    """A change in one figure's level, starting at ``runs[index]``."""

    figure: str
    index: int
    before: float
    after: float


class History(Protocol):
    """Where run figures are kept."""

    def add(self, run: Run, digest: str) -> bool:
        """Store a run; false if a run with this digest is stored."""
        ...

    def series(self, scenario: str) -> list[StoredRun]:
        """The scenario's runs, oldest first by ``started_at``."""
        ...

    def scenarios(self) -> list[str]:
        """Every scenario with a stored run."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def default_url() -> str:
    """The SQLite file used when no URL is given."""
    base = os.environ.get("XDG_DATA_HOME") or str(
        Path.home() / ".local" / "share"
    )
    return str(Path(base) / "barq" / "history.sqlite")


def open_history(url: str | None) -> History:
    """The history at ``url``: a SQLite path or URL, or PostgreSQL."""
    url = url or default_url()
    if url.startswith(("postgresql://", "postgres://")):
        return SqlHistory(_postgres(url), "%s", "BIGSERIAL")
    if "://" in url and not url.startswith("sqlite://"):
        raise InputError(
            "command line",
            "url",
            url,
            "must be a SQLite path, sqlite:///path or postgresql://...",
        )

    path = Path(url.removeprefix("sqlite://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("history in SQLite file %s", path)
    return SqlHistory(sqlite3.connect(path), "?", "INTEGER")


def history_add(run_dir: Path, url: str | None) -> int:
    """``barq history add``: store a run's figures; the exit code."""
    try:
        run = load_run(run_dir)
        digest = hashlib.sha256(
            (Path(run_dir) / RESULTS).read_bytes()
        ).hexdigest()
        history = open_history(url)
    except SimulatorError as error:
        sys.stderr.write(f"barq history: error: {error}\n")
        return EXIT_BAD_INPUT

    try:
        added = history.add(run, digest)
        count = len(history.series(run.scenario))
    finally:
        history.close()
    state = "added" if added else "already stored"
    sys.stdout.write(
        f"{run_dir}: {state}; {count} runs of {run.scenario!r} in history\n"
    )
    return EXIT_OK


def history_show(scenario: str, url: str | None) -> int:
    """``barq history show``: print the series and its change points."""
    try:
        history = open_history(url)
        try:
            runs = history.series(scenario)
            known = history.scenarios()
        finally:
            history.close()
        if not runs:
            raise InputError(
                "command line",
                "scenario",
                scenario,
                f"has no stored runs (stored: {', '.join(known) or 'none'})",
            )
        rng = np.random.default_rng(0)
        changes = change_points(runs, headline_figures(runs), rng)
    except SimulatorError as error:
        sys.stderr.write(f"barq history: error: {error}\n")
        return EXIT_BAD_INPUT

    sys.stdout.write(format_history(runs, changes) + "\n")
    return EXIT_OK


def headline_figures(runs: Sequence[StoredRun]) -> list[str]:
    """The stored figures that :data:`HEADLINE` names, in its order."""
    names = sorted({name for run in runs for name in run.figures})
    return [
        name
        for pattern in HEADLINE
        for name in names
        if fnmatch.fnmatchcase(name, pattern)
    ]


def change_points(
    runs: Sequence[StoredRun],
    figures: Sequence[str],
    rng: np.random.Generator,
) -> list[ChangePoint]:
    """Change points of each figure over the runs, by E-Divisive means.

    Runs that lack a figure are left out of that figure's series.
    """
    e_divisive, seeded = _e_divisive()
    found = []
    for figure in figures:
        indices = [i for i, run in enumerate(runs) if figure in run.figures]
        values = np.array([runs[i].figures[figure] for i in indices])
        if len(values) < MIN_POINTS or np.ptp(values) == 0:
            continue
        with seeded(int(rng.integers(2**31))):
            points = sorted(
                e_divisive(
                    values,
                    pvalue=CHANGE_POINT_P,
                    permutations=CHANGE_POINT_PERMUTATIONS,
                )
            )
        bounds = [0, *points, len(values)]
        for k, point in enumerate(points):
            before = values[bounds[k] : point]
            after = values[point : bounds[k + 2]]
            found.append(
                ChangePoint(
                    figure,
                    indices[point],
                    float(before.mean()),
                    float(after.mean()),
                )
            )
    return found


def format_history(
    runs: Sequence[StoredRun], changes: Sequence[ChangePoint]
) -> str:
    """The series as a table, then one line per change point."""
    figures = headline_figures(runs)
    header = ["#", "started", "revision", *figures]
    rows = [
        [
            str(i + 1),
            run.started_at[:19],
            run.git_revision[:10],
            *(_cell(run.figures.get(f)) for f in figures),
        ]
        for i, run in enumerate(runs)
    ]
    widths = [
        max(len(row[c]) for row in [header, *rows]) for c in range(len(header))
    ]
    lines = [
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]

    if not changes:
        lines.append(
            f"no change points (E-Divisive, p <= {CHANGE_POINT_P}, "
            f"{len(runs)} runs)"
        )
    for change in changes:
        run = runs[change.index]
        relative = (
            f" ({change.after / change.before - 1:+.1%})"
            if change.before
            else ""
        )
        lines.append(
            f"change in {change.figure} from run #{change.index + 1} "
            f"(revision {run.git_revision}, started {run.started_at}): "
            f"{change.before:.4g} -> {change.after:.4g}{relative}"
        )
    return "\n".join(lines)


class SqlHistory:
    """A history in a SQL database through a DB-API connection.

    Parameters
    ----------
    connection
        An open ``sqlite3`` or ``psycopg`` connection; closed with the
        history.
    marker
        The driver's parameter marker, ``?`` or ``%s``.
    key_type
        The column type of an auto-numbered key.
    """

    def __init__(self, connection: Any, marker: str, key_type: str) -> None:
        self._connection = connection
        self._marker = marker
        self._key_type = key_type
        self._create()

    def add(self, run: Run, digest: str) -> bool:
        """Store a run; false if a run with this digest is stored."""
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(f"SELECT id FROM {RUNS_TABLE} WHERE digest = ?"),
                (digest,),
            )
            if cursor.fetchone() is not None:
                return False

            meta = run.results["run"]
            cursor.execute(
                self._sql(
                    f"INSERT INTO {RUNS_TABLE} (scenario, started_at, "
                    "git_revision, fingerprint, path, digest, seeds) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
                ),
                (
                    run.scenario,
                    str(meta["started_at"]),
                    str(meta["git_revision"]),
                    run.fingerprint,
                    str(run.path),
                    digest,
                    json.dumps(run.seeds),
                ),
            )
            (run_id,) = cursor.fetchone()
            cursor.executemany(
                self._sql(
                    f"INSERT INTO {FIGURES_TABLE} (run_id, name, value) "
                    "VALUES (?, ?, ?)"
                ),
                [(run_id, n, v) for n, v in sorted(run.figures().items())],
            )
        log.info("stored run %s as %s in history", run.path, run_id)
        return True

    def series(self, scenario: str) -> list[StoredRun]:
        """The scenario's runs, oldest first by ``started_at``."""
        with self._transaction() as cursor:
            cursor.execute(
                self._sql(
                    "SELECT id, scenario, started_at, git_revision, "
                    f"fingerprint, path FROM {RUNS_TABLE} "
                    "WHERE scenario = ? ORDER BY started_at, id"
                ),
                (scenario,),
            )
            rows = cursor.fetchall()
            cursor.execute(
                self._sql(
                    f"SELECT f.run_id, f.name, f.value FROM {FIGURES_TABLE} f "
                    f"JOIN {RUNS_TABLE} r ON r.id = f.run_id "
                    "WHERE r.scenario = ?"
                ),
                (scenario,),
            )
            figures: dict[int, dict[str, float]] = {}
            for run_id, name, value in cursor.fetchall():
                figures.setdefault(run_id, {})[name] = float(value)
        return [
            StoredRun(
                run_id=row[0],
                scenario=row[1],
                started_at=row[2],
                git_revision=row[3],
                fingerprint=row[4],
                path=row[5],
                figures=figures.get(row[0], {}),
            )
            for row in rows
        ]

    def scenarios(self) -> list[str]:
        """Every scenario with a stored run."""
        with self._transaction() as cursor:
            cursor.execute(
                f"SELECT DISTINCT scenario FROM {RUNS_TABLE} ORDER BY 1"
            )
            return [row[0] for row in cursor.fetchall()]

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()

    def _create(self) -> None:
        with self._transaction() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {RUNS_TABLE} ("
                f"id {self._key_type} PRIMARY KEY, "
                "scenario TEXT NOT NULL, started_at TEXT NOT NULL, "
                "git_revision TEXT NOT NULL, fingerprint TEXT NOT NULL, "
                "path TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, "
                "seeds TEXT NOT NULL)"
            )
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {FIGURES_TABLE} ("
                f"run_id BIGINT NOT NULL REFERENCES {RUNS_TABLE}(id) "
                "ON DELETE CASCADE, name TEXT NOT NULL, "
                "value DOUBLE PRECISION NOT NULL, PRIMARY KEY (run_id, name))"
            )

    def _sql(self, text: str) -> str:
        return text.replace("?", self._marker)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._connection)


class _Transaction:
    """A cursor that commits on success and rolls back on error."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def __enter__(self) -> Any:
        self._cursor = self._connection.cursor()
        return self._cursor

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._cursor.close()
        if kind is None:
            self._connection.commit()
        else:
            self._connection.rollback()


def _postgres(url: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise SimulatorError(
            "a PostgreSQL history needs psycopg 3: "
            "pip install 'psycopg[binary]'"
        ) from None
    try:
        connection = psycopg.connect(url)
    except psycopg.Error as error:
        raise InputError(
            "command line", "url", _redacted(url), f"cannot connect: {error}"
        ) from None
    log.info("history in PostgreSQL %s", _redacted(url))
    return connection


def _redacted(url: str) -> str:
    """The URL without a password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{credentials}{at}{host}"


def _e_divisive() -> tuple[Any, Any]:
    """E-Divisive and the package's seeding context, imported on use so
    that the rest of the harness works without the package."""
    try:
        from signal_processing_algorithms.determinism import (
            deterministic_numpy_random,
        )
        from signal_processing_algorithms.energy_statistics import (
            energy_statistics,
        )
    except ImportError:
        raise SimulatorError(
            "change points need signal-processing-algorithms: pip install "
            "--no-deps signal-processing-algorithms"
        ) from None
    return energy_statistics.e_divisive, deterministic_numpy_random


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
