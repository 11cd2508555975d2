"""The HTTP API's exceptions, each with the status it answers.

::

    EngineError
    └── ApiError               answers ``status`` with ``body()``
        ├── BodyError          the body is not a JSON object (422) or
        │                      too large (413)
        ├── OverloadedError    no solve worker in time, a full queue or a
        │                      full storage buffer (503, Retry-After)
        └── WorkerLostError    a solve worker process died (500)

Input that breaks a rule of the model is the engine's own
:class:`~engine.errors.InvalidRequestError`, answered 422 with its field,
value and rule.
"""

from __future__ import annotations

from typing import Any

from engine.errors import EngineError


class ApiError(EngineError):
    """Base of the errors the API answers with a status of their own."""

    status = 500
    """The HTTP status of the answer."""

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return {"error": str(self)}


class BodyError(ApiError):
    """A request body that is not one JSON object, or is too large.

    Parameters
    ----------
    value
        What was wrong: the parser's message, or the size in bytes.
    rule
        What is allowed, in words.
    status
        422 for a body that is not a JSON object, 413 for one too large.
    """

    def __init__(self, value: Any, rule: str, status: int = 422) -> None:
        self.value = value
        self.rule = rule
        self.status = status
        super().__init__(value, rule, status)

    def __str__(self) -> str:
        return f"body: {self.rule} ({self.value})"

    def body(self) -> dict[str, Any]:
        """The error in the layout of a field error, the field being
        ``body``."""
        return {
            "error": str(self),
            "field": "body",
            "value": self.value,
            "rule": self.rule,
        }


class OverloadedError(ApiError):
    """The service cannot take this request now; try again later.

    Parameters
    ----------
    reason
        Why: no solve worker freed up in time, too many requests waiting,
        too many jobs, or a full storage buffer.
    retry_after_s
        Whole seconds after which a retry may succeed, sent as the
        ``Retry-After`` header.
    """

    status = 503

    def __init__(self, reason: str, retry_after_s: int = 1) -> None:
        self.reason = reason
        self.retry_after_s = retry_after_s
        super().__init__(reason, retry_after_s)

    def __str__(self) -> str:
        return f"overloaded: {self.reason}"

    def body(self) -> dict[str, Any]:
        """The error and its reason."""
        return {"error": str(self), "reason": self.reason}


class WorkerLostError(ApiError):
    """A solve worker process died while it solved this request; the pool
    was replaced, and the request may be tried again."""

    status = 500

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)

    def __str__(self) -> str:
        return f"a solve worker died: {self.detail}"
