"""Solver backends, and the one entry point that picks and checks them.

:func:`solve` compiles a request, runs the insertion heuristic for a first
solution, hands it to the chosen backend, and checks the plan it returns.
A plan that fails the check, or a backend that fails, is logged as the bug
it is, and the heuristic's plan is returned instead, marked as a fallback.
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

    first = InsertionSolver().solve(request, problem)
    check_plan(request, first)
    if backend is Backend.HEURISTIC or not request.orders:
        return first

    routes = problem.node_routes(first)
    solver: Solver
    deadline = began + request.options.time_limit
    if backend is Backend.PYVRP:
        solver = PyVRPSolver(first=routes, deadline=deadline)
    else:
        solver = ORToolsSolver(first=routes, deadline=deadline)
    try:
        plan = solver.solve(request, problem)
        check_plan(request, plan)
    except InfeasiblePlanError as error:
        log.error("falling back to the heuristic: %s", error)
        return _fallback(first, str(error), began)
    except Exception as error:
        log.exception("backend %s failed; falling back", backend.value)
        return _fallback(first, f"{backend.value} failed: {error}", began)
    return replace(
        plan,
        stats=replace(plan.stats, wall_s=time.perf_counter() - began),
    )


def _fallback(first: Plan, reason: str, began: float) -> Plan:
    stats = replace(
        first.stats,
        fallback=True,
        fallback_reason=reason,
        wall_s=time.perf_counter() - began,
    )
    return replace(first, stats=stats)
