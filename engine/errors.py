"""The engine's exceptions.

Every error the engine raises on purpose derives from :class:`EngineError`::

    EngineError
    ├── InvalidRequestError    bad input: names the field, value and rule
    └── InfeasiblePlanError    a solver returned a plan that breaks a rule

:class:`InvalidRequestError` is also a :class:`ValueError`, so callers
that only know the standard library still catch it.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class InvalidRequestError(EngineError, ValueError):
    """Input that breaks a rule of the domain model.

    Parameters
    ----------
    field
        Dotted path of the offending field, for example
        ``orders[3].due_time``.
    value
        The value that was given.
    rule
        What is allowed, in words.
    """

    def __init__(self, field: str, value: Any, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        # The parts are the arguments, so that the error survives being
        # re-raised from them (SimPy does so) and pickled.
        super().__init__(field, value, rule)

    def __str__(self) -> str:
        return f"{self.field} = {self.value!r}: {self.rule}"


class InfeasiblePlanError(EngineError):
    """A plan that breaks a constraint of its request.

    Parameters
    ----------
    backend
        The solver backend that produced the plan.
    violations
        One line per broken rule.
    """

    def __init__(self, backend: str, violations: list[str]) -> None:
        self.backend = backend
        self.violations = violations
        super().__init__(backend, violations)

    def __str__(self) -> str:
        shown = "; ".join(self.violations[:5])
        more = len(self.violations) - 5
        suffix = f" (and {more} more)" if more > 0 else ""
        return f"plan from {self.backend!r} is infeasible: {shown}{suffix}"
