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
        super().__init__(f"{field} = {value!r}: {rule}")


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
        shown = "; ".join(violations[:5])
        more = len(violations) - 5
        suffix = f" (and {more} more)" if more > 0 else ""
        super().__init__(
            f"plan from {backend!r} is infeasible: {shown}{suffix}"
        )
