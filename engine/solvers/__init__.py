"""Solver backends, and the one entry point that picks and checks them.

:func:`solve` compiles a request, hands it to the chosen backend, and
checks the plan it returns. A plan that fails the check, or a backend
that fails, is logged as the bug it is, and the insertion heuristic's plan
is returned instead, marked as a fallback.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.errors import InfeasiblePlanError, InvalidRequestError
from engine.model import Backend
from engine.solvers.base import Solver
from engine.solvers.feasibility import check_plan
from engine.solvers.insertion import InsertionSolver
from engine.solvers.ortools_backend import ORToolsSolver
from engine.solvers.problem import Problem
from engine.solvers.pyvrp_backend import PyVRPSolver, supports

if TYPE_CHECKING:
    from engine.model import Plan, Request

__all__ = [
    "InsertionSolver",
    "ORToolsSolver",
    "Problem",
    "PyVRPSolver",
    "Solver",
    "SolverConfig",
    "check_plan",
    "choose_backend",
    "solve",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SolverConfig:
    """How the engine chooses a backend for ``Backend.AUTO``.

    Requests with more than ``heuristic_above`` orders get the insertion
    heuristic alone; others get ``preferred``, or OR-Tools where the
    preferred backend cannot model the request.
    """

    preferred: Backend = Backend.PYVRP
    heuristic_above: int = 1000

    def __post_init__(self) -> None:
        if self.preferred is Backend.AUTO:
            raise InvalidRequestError(
                "solver.preferred", self.preferred.value, "must name a backend"
            )
        if self.heuristic_above < 0:
            raise InvalidRequestError(
                "solver.heuristic_above", self.heuristic_above, "must be >= 0"
            )


def choose_backend(problem: Problem, config: SolverConfig) -> Backend:
    """The backend that will solve ``problem``."""
    asked = problem.request.options.backend
    if asked is Backend.AUTO:
        if problem.order_count > config.heuristic_above:
            return Backend.HEURISTIC
        asked = config.preferred
    if asked is Backend.PYVRP and not supports(problem):
        return Backend.ORTOOLS
    return asked


def solve(request: Request, config: SolverConfig | None = None) -> Plan:
    """Plan ``request`` with a checked plan, falling back if need be."""
    began = time.perf_counter()
    problem = Problem.from_request(request)
    backend = choose_backend(problem, config or SolverConfig())
    deadline = began + request.options.time_limit

    solver: Solver
    if (
        backend is Backend.HEURISTIC
        or not request.orders
        # OR-Tools aborts the whole process on a model without vehicles.
        or not request.vehicles
    ):
        solver = InsertionSolver()
    elif backend is Backend.PYVRP:
        # PyVRP builds a start of its own: measured on Li & Lim, a warm
        # start from the heuristic gains nothing at 1 s and costs half
        # the budget at 0.1 s (docs/benchmarks.md).
        solver = PyVRPSolver(deadline=deadline)
    else:
        first = InsertionSolver().routes(problem)
        solver = ORToolsSolver(first=first, deadline=deadline)

    try:
        plan = solver.solve(request, problem)
        check_plan(request, plan)
    except Exception as error:
        if isinstance(solver, InsertionSolver):
            raise
        if isinstance(error, InfeasiblePlanError):
            log.error("falling back to the heuristic: %s", error)
            reason = str(error)
        else:
            log.exception("backend %s failed; falling back", backend.value)
            reason = f"{backend.value} failed: {error}"
        return _fallback(request, problem, reason, began)
    return _timed(plan, began)


def _timed(
    plan: Plan, began: float, fallback_reason: str | None = None
) -> Plan:
    """``plan`` with the whole call's wall time in its statistics, and
    marked as a fallback if there is a reason."""
    stats = replace(
        plan.stats,
        wall_s=time.perf_counter() - began,
        fallback=fallback_reason is not None,
        fallback_reason=fallback_reason,
    )
    return replace(plan, stats=stats)


def _fallback(
    request: Request, problem: Problem, reason: str, began: float
) -> Plan:
    plan = InsertionSolver().solve(request, problem)
    check_plan(request, plan)
    return _timed(plan, began, fallback_reason=reason)
