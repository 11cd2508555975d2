"""Statements timed, reported to the hooks, and logged when slow."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging
    from collections.abc import Iterator

    from engine.storage.base import StorageHooks

Timing = tuple[str, float, int]
"""``(operation, seconds, rows)`` of a statement that succeeded."""


class Queries:
    """Times a backend's statements.

    A statement slower than ``slow_query_s`` is logged at WARNING on
    ``log`` with its operation, duration and rows. A failed statement
    is reported to the hooks at once; one that succeeded inside a
    transaction is reported once the transaction commits (its rows are
    written only then), through :meth:`committed`.
    """

    def __init__(
        self, hooks: StorageHooks, slow_query_s: float, log: logging.Logger
    ) -> None:
        self.hooks = hooks
        self.slow_query_s = slow_query_s
        self.log = log

    @contextmanager
    def timed(
        self, operation: str, rows: int = 0, done: list[Timing] | None = None
    ) -> Iterator[None]:
        """Time the statement run inside; append its timing to ``done``,
        or report it at once when ``done`` is None."""
        began = time.perf_counter()
        try:
            yield
        except BaseException:
            seconds = time.perf_counter() - began
            self.hooks.on_query(operation, seconds, rows, False)
            raise
        seconds = time.perf_counter() - began
        if seconds > self.slow_query_s:
            self.log.warning(
                "slow query: %s took %.3f s (%d rows)",
                operation,
                seconds,
                rows,
            )
        if done is None:
            self.hooks.on_query(operation, seconds, rows, True)
        else:
            done.append((operation, seconds, rows))

    def committed(self, done: list[Timing]) -> None:
        """Report the statements of a transaction that committed."""
        for operation, seconds, rows in done:
            self.hooks.on_query(operation, seconds, rows, True)
