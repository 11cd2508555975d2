"""Solving in worker processes, with admission control.

:class:`SolverPool` is the solve function the API gives its
:class:`~engine.service.Service`: the service calls it from a request's
thread on a cache miss, and it runs :func:`engine.solvers.solve` in one
of ``workers`` processes and waits for the plan. Cache hits never reach
it. A caller first takes one of ``workers`` slots: it waits at most the
budget of its :class:`Admission` (a synchronous request's queue timeout;
a job waits as long as it takes), and is refused at once when
``max_waiting`` callers already wait; either refusal raises
:class:`~engine.api.errors.OverloadedError`, which the API answers 503.

The admission of the current call is read from a context variable that
the API sets around :meth:`~engine.service.Service.optimize` with
:func:`admitted`, since the service knows nothing of it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.api.errors import OverloadedError, WorkerLostError
from engine.errors import InvalidRequestError
from engine.model import Location, Options, Order, Request, Vehicle
from engine.solvers import solve
from engine.travel import Euclidean

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from engine.model import Plan
    from engine.solvers import SolverConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Admission:
    """How one call may wait for a solve worker.

    ``wait_s`` bounds the wait (None: as long as it takes);
    ``on_start`` is called once a worker is taken, before solving.
    """

    wait_s: float | None
    on_start: Callable[[], None] | None = None


NO_WAIT = Admission(0.0)
"""The admission of a call made outside :func:`admitted`: no waiting."""

_ADMISSION: ContextVar[Admission | None] = ContextVar(
    "barq_api_admission", default=None
)


@contextlib.contextmanager
def admitted(admission: Admission) -> Iterator[None]:
    """Solves in this context wait for a worker as ``admission`` says."""
    token = _ADMISSION.set(admission)
    try:
        yield
    finally:
        _ADMISSION.reset(token)


class SolverPool:
    """``workers`` solve processes behind a bounded admission queue.

    Parameters
    ----------
    workers
        Processes, and so solves at once.
    max_waiting
        Callers that may wait for a worker at once; one more is refused.
    retry_after_s
        Sent with a refusal: when to try again.
    on_workers
        Told ``(busy, workers)`` whenever a slot is taken or given back.

    Processes are started with ``spawn``, so that none inherits the
    server's threads, and ignore SIGINT, so that Ctrl-C stops the server
    (which then closes the pool) rather than each worker.

    .. note::
       A solve that has started runs to its end: a request's
       ``time_limit`` or ``work_limit`` is what bounds it, which is why
       the API caps both. A worker that dies (a crash in a native
       backend) takes the whole executor with it; the pool then starts a
       new one and the request that was solving is answered as failed.
    """

    def __init__(
        self,
        workers: int,
        max_waiting: int,
        retry_after_s: int = 1,
        on_workers: Callable[[int, int], None] | None = None,
    ) -> None:
        if workers < 1:
            raise InvalidRequestError("workers", workers, "must be >= 1")
        self.workers = workers
        self.max_waiting = max_waiting
        self.retry_after_s = retry_after_s
        self._on_workers = on_workers
        self._slots = threading.Condition()
        self._busy = 0
        self._waiting = 0
        self._closed = False
        self._executor = self._new_executor()

    @property
    def busy(self) -> int:
        """Workers solving now."""
        return self._busy

    @property
    def waiting(self) -> int:
        """Callers waiting for a worker now."""
        return self._waiting

    @property
    def running(self) -> bool:
        """Whether the pool takes work (it is not closed)."""
        return not self._closed

    def warm_up(self) -> float:
        """Start every worker and solve a small request in each, so that
        no request pays for the imports; returns the seconds it took."""
        began = time.perf_counter()
        futures = [
            self._executor.submit(_warm_up) for _ in range(self.workers)
        ]
        wait(futures)
        for future in futures:
            future.result()
        seconds = time.perf_counter() - began
        log.info("%d solve workers ready in %.1f s", self.workers, seconds)
        return seconds

    def __call__(self, request: Request, config: SolverConfig) -> Plan:
        """Solve ``request`` in a worker, as the current admission
        allows; raises :class:`OverloadedError` when refused."""
        admission = _ADMISSION.get() or NO_WAIT
        with self._slot(admission.wait_s):
            if admission.on_start is not None:
                admission.on_start()
            executor = self._executor
            try:
                return executor.submit(solve, request, config).result()
            except BrokenProcessPool as error:
                self._replace(executor)
                raise WorkerLostError(str(error)) from None

    def close(self) -> None:
        """Refuse new work, wake every waiting caller, cancel what has not
        started and wait for the solves that have; closing twice does
        nothing."""
        with self._slots:
            if self._closed:
                return
            self._closed = True
            self._slots.notify_all()
        self._executor.shutdown(wait=True, cancel_futures=True)
        log.info("solve workers stopped")

    @contextlib.contextmanager
    def _slot(self, wait_s: float | None) -> Iterator[None]:
        with self._slots:
            self._take(wait_s)
            self._report()
        try:
            yield
        finally:
            with self._slots:
                self._busy -= 1
                self._report()
                self._slots.notify()

    def _take(self, wait_s: float | None) -> None:
        """Take a slot, holding the condition's lock."""
        if self._closed:
            raise OverloadedError("the server is stopping", self.retry_after_s)
        if self._busy < self.workers:
            self._busy += 1
            return
        if self._waiting >= self.max_waiting:
            raise OverloadedError(
                f"{self._waiting} requests already wait for a solve worker",
                self.retry_after_s,
            )

        self._waiting += 1
        try:
            freed = self._slots.wait_for(
                lambda: self._closed or self._busy < self.workers, wait_s
            )
        finally:
            self._waiting -= 1
        if self._closed:
            raise OverloadedError("the server is stopping", self.retry_after_s)
        if not freed:
            raise OverloadedError(
                f"no solve worker was free within {wait_s:g} s",
                self.retry_after_s,
            )
        self._busy += 1

    def _report(self) -> None:
        if self._on_workers is not None:
            self._on_workers(self._busy, self.workers)

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_ignore_interrupts,
        )

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._slots:
            if self._executor is not broken or self._closed:
                return
            log.error("a solve worker died; starting new workers")
            self._executor = self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _warm_up() -> int:
    """Solve a two-order request with the default backend (in a worker
    process); returns the number of routes."""
    request = Request(
        locations=(
            Location("depot", 0.0, 0.0),
            Location("a", 1.0, 0.0),
            Location("b", 0.0, 1.0),
        ),
        orders=(Order("o1", "depot", "a"), Order("o2", "depot", "b")),
        vehicles=(Vehicle("v1", "depot", 2),),
        travel=Euclidean(),
        options=Options(work_limit=10),
    )
    return len(solve(request).routes)
