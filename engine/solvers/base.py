"""The protocol every solver backend implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from engine.model import Plan, Request
    from engine.solvers.problem import Problem


class Solver(Protocol):
    """A backend that turns a request into a plan."""

    name: str
    """The backend's name, as reported in :class:`~engine.model.SolveStats`."""

    def solve(self, request: Request, problem: Problem) -> Plan:
        """Plan ``request``, whose arrays are ``problem``.

        The plan need not be checked: the caller checks every plan.
        """
        ...
