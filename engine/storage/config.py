"""Configuration of durable storage: where it is, and how it is written.

::

    StorageConfig(url="postgresql://barq@db:5432/barq", pool_max=8)
    StorageConfig(url="runs/today/barq.sqlite")

A URL of scheme ``sqlite:///`` or a plain file path means SQLite; one
of scheme ``postgresql://`` or ``postgres://`` means PostgreSQL, given
to libpq as it is (so ``?options=-csearch_path%3Dmine`` and the other
connection parameters work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from engine.errors import InvalidRequestError

SQLITE_PREFIX = "sqlite:///"
"""The URL prefix of a SQLite file; the rest is the file's path."""

POSTGRES_SCHEMES = ("postgresql", "postgres")
"""URL schemes that name a PostgreSQL server."""


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """Where records are stored, and how the batching writer writes them.

    Durations are seconds. The pool sizes apply to PostgreSQL only; a
    SQLite file is written through one connection.
    """

    url: str = "barq.sqlite"
    """``sqlite:///path``, a plain file path, or ``postgresql://...``."""

    pool_min: int = 1
    """Connections the pool keeps open when idle."""

    pool_max: int = 4
    """Most connections the pool opens."""

    statement_timeout_s: float = 5.0
    """A statement running longer is cancelled by the server (SQLite:
    the longest wait for a lock held by another connection)."""

    slow_query_s: float = 0.1
    """A statement taking longer is logged at WARNING."""

    batch_size: int = 200
    """The writer writes once this many records wait."""

    batch_age_s: float = 0.5
    """The writer writes once the oldest waiting record is this old."""

    buffer_limit: int = 10_000
    """Most records the writer holds unwritten; beyond it, saves are
    refused with :class:`~engine.storage.StorageFullError`."""

    retry_base_s: float = 0.05
    """First wait after a failed write; doubled after each failure."""

    retry_max_s: float = 5.0
    """Longest wait between two attempts at a write."""

    def __post_init__(self) -> None:
        self._check_url()
        _integer_at_least("pool_min", self.pool_min, 0)
        _integer_at_least("pool_max", self.pool_max, max(self.pool_min, 1))
        _seconds_above_zero("statement_timeout_s", self.statement_timeout_s)
        _seconds("slow_query_s", self.slow_query_s)
        _integer_at_least("batch_size", self.batch_size, 1)
        _seconds_above_zero("batch_age_s", self.batch_age_s)
        _integer_at_least("buffer_limit", self.buffer_limit, self.batch_size)
        _seconds_above_zero("retry_base_s", self.retry_base_s)
        _seconds("retry_max_s", self.retry_max_s)
        if self.retry_max_s < self.retry_base_s:
            raise InvalidRequestError(
                "retry_max_s",
                self.retry_max_s,
                f"must be >= retry_base_s ({self.retry_base_s})",
            )

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        """The kind of database the URL names."""
        if urlsplit(self.url).scheme in POSTGRES_SCHEMES:
            return "postgresql"
        return "sqlite"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file the URL names.

        Raises
        ------
        InvalidRequestError
            When the URL names a PostgreSQL server.
        """
        if self.backend != "sqlite":
            raise InvalidRequestError(
                "url", self.url, "names a PostgreSQL server, not a file"
            )
        return Path(unquote(self.url.removeprefix(SQLITE_PREFIX)))

    def _check_url(self) -> None:
        if not isinstance(self.url, str) or not self.url.strip():
            raise InvalidRequestError(
                "url", self.url, "must be a database URL or a file path"
            )
        if "://" not in self.url:
            return
        scheme = urlsplit(self.url).scheme
        if scheme in POSTGRES_SCHEMES:
            return
        if not self.url.startswith(SQLITE_PREFIX) or self.url == SQLITE_PREFIX:
            raise InvalidRequestError(
                "url",
                self.url,
                "must be sqlite:///PATH, a file path, or a URL of scheme "
                "postgresql or postgres",
            )


def _integer_at_least(name: str, value: object, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidRequestError(
            name, value, f"must be an integer >= {least}"
        )


def _seconds(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value >= 0)
    ):
        raise InvalidRequestError(
            name, value, "must be a finite number of seconds >= 0"
        )


def _seconds_above_zero(name: str, value: object) -> None:
    _seconds(name, value)
    if value == 0:
        raise InvalidRequestError(
            name, value, "must be a finite number of seconds > 0"
        )
