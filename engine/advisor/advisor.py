"""The advisor: a cached, time-boxed model call behind a circuit breaker,
falling back to the heuristic.

Each call to the model goes through the same steps:

1. the cache, by a fingerprint of the question: a still valid answer is a
   ``cache_hit`` and costs nothing;
2. the breaker: when it refuses, ``breaker_open`` and the heuristic's
   answer, without calling;
3. the backend, within the timeout: ``timeout`` or ``error`` and the
   heuristic's answer when it gives none;
4. strict parsing and validation against the question: ``rejected`` and
   the heuristic's answer when the answer is malformed or infeasible;
   otherwise ``ok``, and the answer is used and cached.

Every call ends as exactly one of these outcomes, counted in
:meth:`Advisor.counts` and reported to the hooks. Timeouts, errors and
rejected answers count as failures for the breaker (a provider that
answers nonsense is misbehaving as much as one that does not answer);
``ok`` counts as a success; cache hits and refusals do not reach it.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from engine.advisor.breaker import BreakerConfig, BreakerState, CircuitBreaker
from engine.advisor.fingerprint import assign_key, review_key
from engine.advisor.heuristic import choose, estimate, violation
from engine.advisor.prompt import (
    AnswerRejected,
    assign_messages,
    parse_assignments,
    parse_review,
    review_messages,
)
from engine.advisor.question import (
    Advice,
    AssignmentQuestion,
    Outcome,
    Review,
    worst,
)
from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from engine.advisor.backends import AdvisorBackend
    from engine.advisor.cache import AnswerCache
    from engine.advisor.heuristic import Estimates
    from engine.clock import Clock
    from engine.model import Plan, Request
    from engine.travel import TravelTimes

log = logging.getLogger(__name__)

T = TypeVar("T")

Kind = Literal["assign", "review"]


class AdvisorHooks(Protocol):
    """Receives what the advisor does; only an adapter makes metrics of
    it."""

    def on_advice(
        self, kind: Kind, outcome: Outcome, latency_s: float
    ) -> None:
        """One advisor call ended with ``outcome`` after ``latency_s``."""
        ...

    def on_breaker(self, state: BreakerState) -> None:
        """The breaker moved to ``state``."""
        ...


@dataclass(frozen=True, slots=True)
class AdvisorConfig:
    """How the advisor calls the model.

    ``timeout_s`` bounds each call; ``batch_size`` is the most orders one
    call advises on; ``cache_precision`` (decimals of coordinates) and
    ``urgency_bucket_s`` coarsen the cache key (see
    :mod:`engine.advisor.fingerprint`); ``breaker`` configures the circuit
    breaker.
    """

    timeout_s: float = 2.0
    batch_size: int = 8
    cache_precision: int = 3
    urgency_bucket_s: float = 300.0
    breaker: BreakerConfig = field(default_factory=BreakerConfig)

    def __post_init__(self) -> None:
        if not _positive(self.timeout_s):
            raise InvalidRequestError(
                "advisor.timeout_s", self.timeout_s, "must be > 0 seconds"
            )
        if not _positive(self.urgency_bucket_s):
            raise InvalidRequestError(
                "advisor.urgency_bucket_s",
                self.urgency_bucket_s,
                "must be > 0 seconds",
            )
        for name, low in (("batch_size", 1), ("cache_precision", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRequestError(
                    f"advisor.{name}", value, "must be an integer"
                )
            if value < low:
                raise InvalidRequestError(
                    f"advisor.{name}", value, f"must be >= {low}"
                )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdvisorConfig:
        """Build from a mapping with the field names as keys and
        ``breaker`` as a mapping of :class:`BreakerConfig` fields."""
        if not isinstance(data, dict):
            raise InvalidRequestError("advisor", data, "must be a mapping")
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InvalidRequestError(
                f"advisor.{unknown[0]}",
                data[unknown[0]],
                f"is not a field; allowed: {', '.join(sorted(allowed))}",
            )
        fields = dict(data)
        if "breaker" in fields:
            fields["breaker"] = BreakerConfig.from_dict(fields["breaker"])
        return cls(**fields)


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


class Advisor:
    """Advice on who takes which orders, and second opinions on plans.

    Parameters
    ----------
    backend
        Where answers come from: an HTTP client or the modelled backend.
    clock
        Read by the breaker (and by nothing else here; the cache keeps
        its own clock).
    config
        Timeout, batching, cache key and breaker settings.
    cache
        Keeps ``ok`` answers; no caching without one.
    hooks
        Told of every outcome and every breaker transition.

    The advisor is safe to share between threads.
    """

    def __init__(
        self,
        backend: AdvisorBackend,
        clock: Clock,
        config: AdvisorConfig | None = None,
        cache: AnswerCache | None = None,
        hooks: AdvisorHooks | None = None,
    ) -> None:
        self.config = config if config is not None else AdvisorConfig()
        self._backend = backend
        self._cache = cache
        self._hooks = hooks
        self._breaker = CircuitBreaker(
            self.config.breaker,
            clock,
            on_change=hooks.on_breaker if hooks is not None else None,
        )
        self._counts = dict.fromkeys(Outcome, 0)
        self._lock = threading.Lock()

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker in front of the backend."""
        return self._breaker

    def counts(self) -> Mapping[Outcome, int]:
        """How many calls ended with each outcome (every outcome listed,
        zeros included)."""
        with self._lock:
            return dict(self._counts)

    def assign(
        self, question: AssignmentQuestion, travel: TravelTimes
    ) -> Advice:
        """Which driver should take each order of ``question``.

        A question with more than ``batch_size`` orders is split, in its
        order, into calls of ``batch_size`` orders; the free capacity each
        answer uses is taken from the drivers before the next call. Each
        call is counted on its own; the :class:`Advice` merges them as its
        docstring says.
        """
        size = self.config.batch_size
        room = {c.driver_id: c.free_capacity for c in question.candidates}
        parts: list[Advice] = []
        for first in range(0, len(question.orders), size):
            orders = question.orders[first : first + size]
            batch = replace(
                question,
                orders=orders,
                candidates=tuple(
                    replace(c, free_capacity=room[c.driver_id])
                    for c in question.candidates
                ),
            )
            advice = self._assign_batch(batch, travel)
            for order in orders:
                driver = advice.assignments[order.id]
                if driver is not None:
                    room[driver] -= order.quantity
            parts.append(advice)

        if len(parts) == 1:
            return parts[0]
        used = all(part.source == "advisor" for part in parts)
        return Advice(
            assignments={
                order: driver
                for part in parts
                for order, driver in part.assignments.items()
            },
            outcome=worst(part.outcome for part in parts),
            source="advisor" if used else "heuristic",
            latency_s=sum(part.latency_s for part in parts),
        )

    def review(self, request: Request, plan: Plan) -> Review:
        """A second opinion on ``plan`` for ``request``.

        The plan is returned as it is whatever the verdict: the advisor
        may only accept or reject it, and the caller decides what a
        rejection means.
        """
        key = review_key(request, plan, self.config.cache_precision)
        cached = self._cached(key)
        if cached is not None:
            try:
                verdict, reason = _cached_review(cached)
            except AnswerRejected as error:
                log.debug("cached review unusable: %s", error.reason)
            else:
                self._count("review", Outcome.CACHE_HIT, 0.0)
                return Review(
                    plan, Outcome.CACHE_HIT, "advisor", 0.0, verdict, reason
                )

        messages = review_messages(request, plan)
        outcome, answer, latency = self._ask(messages, parse_review)
        self._count("review", outcome, latency)
        if answer is None:
            return Review(plan, outcome, "heuristic", latency)
        verdict, reason = answer
        self._store(key, {"verdict": verdict, "reason": reason})
        return Review(plan, outcome, "advisor", latency, verdict, reason)

    def _assign_batch(
        self, question: AssignmentQuestion, travel: TravelTimes
    ) -> Advice:
        """One call's worth of :meth:`assign`."""
        estimates = estimate(question, travel)
        key = assign_key(
            question,
            self.config.cache_precision,
            self.config.urgency_bucket_s,
        )
        cached = _cached_assignments(self._cached(key), estimates)
        if cached is not None:
            self._count("assign", Outcome.CACHE_HIT, 0.0)
            return Advice(cached, Outcome.CACHE_HIT, "advisor", 0.0)

        messages = assign_messages(question, estimates)
        outcome, answer, latency = self._ask(
            messages, lambda text: parse_assignments(text, estimates)
        )
        self._count("assign", outcome, latency)
        if answer is None:
            return Advice(choose(estimates), outcome, "heuristic", latency)
        self._store(key, [answer[order] for order in estimates.order_ids])
        return Advice(answer, outcome, "advisor", latency)

    def _ask(
        self, messages: list[dict[str, str]], parse: Callable[[str], T]
    ) -> tuple[Outcome, T | None, float]:
        """Call the backend through the breaker; the outcome, the parsed
        answer (``None`` unless ``ok``) and the latency to charge."""
        if not self._breaker.allow():
            return Outcome.BREAKER_OPEN, None, 0.0

        timeout = self.config.timeout_s
        try:
            completion = self._backend.complete(messages, timeout)
        except Exception:
            # A backend must report failures, not raise them; one that
            # raises anyway costs the request nothing but a count.
            log.exception("advisor backend raised instead of reporting")
            self._breaker.record(False)
            return Outcome.ERROR, None, 0.0

        latency = completion.latency_s
        answer: T | None = None
        if completion.timed_out or latency > timeout:
            # A late answer is not waited for: charge the timeout, unless
            # the backend measured how long it really waited.
            outcome = Outcome.TIMEOUT
            latency = latency if completion.timed_out else timeout
        elif completion.error is not None or completion.text is None:
            outcome = Outcome.ERROR
            log.info("advisor call failed: %s", completion.error)
        else:
            try:
                answer = parse(completion.text)
            except AnswerRejected as error:
                outcome = Outcome.REJECTED
                log.info("advisor %s", error)
            else:
                outcome = Outcome.OK

        self._breaker.record(outcome is Outcome.OK)
        return outcome, answer, latency

    def _count(self, kind: Kind, outcome: Outcome, latency: float) -> None:
        with self._lock:
            self._counts[outcome] += 1
        log.debug("advisor %s: %s in %.3f s", kind, outcome.value, latency)
        if self._hooks is not None:
            self._hooks.on_advice(kind, outcome, latency)

    def _cached(self, key: str) -> Any | None:
        return self._cache.get(key) if self._cache is not None else None

    def _store(self, key: str, value: Any) -> None:
        if self._cache is not None:
            self._cache.put(key, value)


def _cached_assignments(
    value: Any, estimates: Estimates
) -> dict[str, str | None] | None:
    """A cached assignment list mapped onto the current orders, if it is
    still a valid answer to them."""
    if not isinstance(value, list) or len(value) != len(estimates.order_ids):
        return None
    if not all(driver is None or isinstance(driver, str) for driver in value):
        return None
    answer = dict(zip(estimates.order_ids, value, strict=True))
    problem = violation(estimates, answer)
    if problem is not None:
        log.debug("cached advice no longer valid: %s", problem)
        return None
    return answer


def _cached_review(value: Any) -> tuple[Literal["accept", "reject"], str]:
    if not isinstance(value, dict):
        raise AnswerRejected("cached review is not a mapping")
    verdict, reason = value.get("verdict"), value.get("reason")
    if verdict not in ("accept", "reject") or not isinstance(reason, str):
        raise AnswerRejected(f"cached review {value!r} is not a verdict")
    return verdict, reason
