"""Tests of the advisor: every call ends as one counted outcome, a bad or
missing answer falls back to the heuristic, answers are cached and
re-checked, questions are split into batches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from engine.advisor import (
    Advisor,
    AdvisorConfig,
    BreakerConfig,
    BreakerState,
    Candidate,
    Completion,
    LatencyModel,
    MemoryAnswerCache,
    ModelConfig,
    ModelledBackend,
    Outcome,
    nearest_feasible,
)
from engine.clock import ManualClock
from engine.errors import InvalidRequestError
from engine.model import (
    Location,
    Order,
    Plan,
    Request,
    Route,
    SolveStats,
    Stop,
    StopKind,
    Vehicle,
)
from engine.travel import Euclidean

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.advisor import AssignmentQuestion

GOOD = (
    '{"assignments": [{"order": "o1", "driver": "a"},'
    ' {"order": "o2", "driver": "b"}]}'
)
"""The heuristic's answer to the default question, as the model says it."""

OTHER = (
    '{"assignments": [{"order": "o1", "driver": "b"},'
    ' {"order": "o2", "driver": "b"}]}'
)
"""A valid answer to the default question that is not the heuristic's."""


class Hooks:
    """Keeps what the advisor reports."""

    def __init__(self) -> None:
        self.advice: list[tuple[str, Outcome, float]] = []
        self.states: list[BreakerState] = []

    def on_advice(self, kind: Any, outcome: Outcome, latency_s: float) -> None:
        self.advice.append((kind, outcome, latency_s))

    def on_breaker(self, state: BreakerState) -> None:
        self.states.append(state)


def only(counts: Any, **expected: int) -> bool:
    """Whether ``counts`` holds exactly ``expected`` and zeros elsewhere."""
    return dict(counts) == {
        outcome: expected.get(outcome.value, 0) for outcome in Outcome
    }


def test_ok_answer_is_used_counted_and_hooked(
    question: AssignmentQuestion, travel: Euclidean, scripted: Any
) -> None:
    """A valid answer in time is used as the advisor's, counted once as
    ok and reported to the hooks with its latency."""
    hooks = Hooks()
    backend = scripted(Completion(OTHER, 0.3))
    advisor = Advisor(backend, ManualClock(), hooks=hooks)
    advice = advisor.assign(question, travel)
    assert advice.assignments == {"o1": "b", "o2": "b"}
    assert (advice.outcome, advice.source) == (Outcome.OK, "advisor")
    assert advice.latency_s == 0.3
    assert only(advisor.counts(), ok=1)
    assert hooks.advice == [("assign", Outcome.OK, 0.3)]
    assert len(backend.sent) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Give o1 to a.",
        '{"assignments": [{"order": "o1", "driver": "zed"},'
        ' {"order": "o2", "driver": "b"}]}',
        '{"assignments": [{"order": "o1", "driver": "a"}]}',
        '{"assignments": [{"order": "o1", "driver": "a"},'
        ' {"order": "o2", "driver": "a"}]}',
        '{"assignments": [{"order": "o1", "driver": "c"},'
        ' {"order": "o2", "driver": "b"}]}',
    ],
    ids=["not-json", "wrong-driver", "missing-order", "capacity", "shift"],
)
def test_bad_answer_is_rejected_and_heuristic_used(
    text: str,
    question: AssignmentQuestion,
    travel: Euclidean,
    scripted: Any,
) -> None:
    """A malformed or infeasible answer is never applied: the outcome is
    rejected and the heuristic's answer is used instead."""
    advisor = Advisor(scripted(Completion(text, 0.1)), ManualClock())
    advice = advisor.assign(question, travel)
    assert advice.outcome is Outcome.REJECTED
    assert advice.source == "heuristic"
    assert advice.assignments == nearest_feasible(question, travel)
    assert advice.latency_s == 0.1
    assert only(advisor.counts(), rejected=1)


@pytest.mark.parametrize(
    ("completion", "outcome", "latency"),
    [
        (Completion(None, 2.0, timed_out=True), Outcome.TIMEOUT, 2.0),
        (Completion(GOOD, 5.0), Outcome.TIMEOUT, 2.0),
        (Completion(None, 0.2, error="HTTP 503"), Outcome.ERROR, 0.2),
        (Completion(None, 0.2), Outcome.ERROR, 0.2),
    ],
    ids=["timed-out", "late-answer", "error", "no-text"],
)
def test_failed_call_falls_back(
    completion: Completion,
    outcome: Outcome,
    latency: float,
    question: AssignmentQuestion,
    travel: Euclidean,
    scripted: Any,
) -> None:
    """A timeout, a late answer and an error each end as their outcome
    with the heuristic's answer; a late answer is charged the timeout."""
    advisor = Advisor(scripted(completion), ManualClock())
    advice = advisor.assign(question, travel)
    assert (advice.outcome, advice.source) == (outcome, "heuristic")
    assert advice.latency_s == latency
    assert advice.assignments == {"o1": "a", "o2": "b"}
    assert only(advisor.counts(), **{outcome.value: 1})


def test_modelled_timeout_charges_the_timeout(
    question: AssignmentQuestion, travel: Euclidean
) -> None:
    """A modelled provider slower than the timeout costs exactly the
    timeout, and the heuristic answers."""
    config = ModelConfig(latency=LatencyModel("constant", median_s=9.0))
    clock = ManualClock()
    backend = ModelledBackend(config, clock, np.random.default_rng(0))
    advisor = Advisor(backend, clock, AdvisorConfig(timeout_s=0.5))
    advice = advisor.assign(question, travel)
    assert (advice.outcome, advice.latency_s) == (Outcome.TIMEOUT, 0.5)


def test_backend_that_raises_counts_as_error(
    question: AssignmentQuestion, travel: Euclidean
) -> None:
    """A backend that raises instead of reporting costs only an error
    outcome and the heuristic's answer."""

    class Broken:
        def complete(self, messages: Any, timeout: float) -> Completion:
            raise RuntimeError("bug")

    advisor = Advisor(Broken(), ManualClock())
    advice = advisor.assign(question, travel)
    assert (advice.outcome, advice.source) == (Outcome.ERROR, "heuristic")


def test_cache_hit_reuses_an_ok_answer(
    question: AssignmentQuestion, travel: Euclidean, scripted: Any
) -> None:
    """The same question asked again is a free cache hit with the cached
    answer, without calling the backend."""
    clock = ManualClock()
    backend = scripted(Completion(OTHER, 0.4))
    cache = MemoryAnswerCache(ttl_s=60, clock=clock)
    advisor = Advisor(backend, clock, cache=cache)
    advisor.assign(question, travel)
    advice = advisor.assign(question, travel)
    assert advice.assignments == {"o1": "b", "o2": "b"}
    assert (advice.outcome, advice.source) == (Outcome.CACHE_HIT, "advisor")
    assert advice.latency_s == 0.0
    assert len(backend.sent) == 1
    assert only(advisor.counts(), ok=1, cache_hit=1)


def test_cache_is_keyed_by_places_not_ids(
    question_of: Callable[..., AssignmentQuestion],
    travel: Euclidean,
    scripted: Any,
) -> None:
    """New orders at the same places and urgency get the cached drivers,
    mapped to the new order ids by position."""
    clock = ManualClock()
    advisor = Advisor(
        scripted(Completion(OTHER, 0.4)),
        clock,
        cache=MemoryAnswerCache(60, clock),
    )
    advisor.assign(question_of(), travel)
    renamed = (
        Order("n1", "shop", "home", quantity=1, due_time=610),
        Order("n2", "mall", "park", quantity=2),
    )
    advice = advisor.assign(question_of(orders=renamed, now=5), travel)
    assert advice.outcome is Outcome.CACHE_HIT
    assert advice.assignments == {"n1": "b", "n2": "b"}


def test_cached_answer_no_longer_feasible_is_a_miss(
    question_of: Callable[..., AssignmentQuestion],
    travel: Euclidean,
    scripted: Any,
) -> None:
    """A cached answer whose driver has lost its room is not used: the
    model is asked again."""
    clock = ManualClock()
    backend = scripted(Completion(OTHER, 0.4), Completion(GOOD, 0.4))
    advisor = Advisor(backend, clock, cache=MemoryAnswerCache(60, clock))
    advisor.assign(question_of(), travel)
    full = question_of().candidates
    tighter = (full[0], Candidate("b", full[1].location, 0.0, 2), full[2])
    advice = advisor.assign(question_of(candidates=tighter), travel)
    assert advice.outcome is Outcome.OK
    assert advice.assignments == {"o1": "a", "o2": "b"}
    assert len(backend.sent) == 2


def test_cache_entries_expire_with_the_clock(
    question: AssignmentQuestion, travel: Euclidean, scripted: Any
) -> None:
    """After the cache's TTL on the injected clock the answer is asked
    for again."""
    clock = ManualClock()
    backend = scripted(Completion(GOOD, 0.1))
    advisor = Advisor(backend, clock, cache=MemoryAnswerCache(30, clock))
    outcomes = []
    for step in (0, 29, 1):
        clock.advance(step)
        outcomes.append(advisor.assign(question, travel).outcome)
    assert outcomes == [Outcome.OK, Outcome.CACHE_HIT, Outcome.OK]


def test_only_ok_answers_are_cached(
    question: AssignmentQuestion, travel: Euclidean, scripted: Any
) -> None:
    """A fallback answer is not cached: the next call asks again."""
    clock = ManualClock()
    backend = scripted(Completion("nonsense", 0.1), Completion(GOOD, 0.1))
    advisor = Advisor(backend, clock, cache=MemoryAnswerCache(60, clock))
    first = advisor.assign(question, travel).outcome
    second = advisor.assign(question, travel).outcome
    assert (first, second) == (Outcome.REJECTED, Outcome.OK)


def test_batches_split_and_carry_capacity(
    question_of: Callable[..., AssignmentQuestion], travel: Euclidean
) -> None:
    """Five orders with a batch size of two make three calls, each
    counted; capacity given away in one batch is gone in the next, so the
    merged answer equals the heuristic over the whole question."""
    orders = tuple(Order(f"o{k}", "shop", "home") for k in range(5))
    candidates = (
        Candidate("near", Location("n", 1, 0), 0.0, 3),
        Candidate("far", Location("f", 60, 0), 0.0, 1),
    )
    question = question_of(orders, candidates)
    clock = ManualClock()
    config = ModelConfig(latency=LatencyModel("constant", median_s=0.25))
    backend = ModelledBackend(config, clock, np.random.default_rng(0))
    advisor = Advisor(backend, clock, AdvisorConfig(batch_size=2))
    advice = advisor.assign(question, travel)
    assert advice.assignments == nearest_feasible(question, travel)
    assert list(advice.assignments.values()) == [
        "near",
        "near",
        "near",
        "far",
        None,
    ]
    assert (advice.outcome, advice.source) == (Outcome.OK, "advisor")
    assert advice.latency_s == 0.75
    assert only(advisor.counts(), ok=3)


def test_batch_outcome_is_the_worst(
    question_of: Callable[..., AssignmentQuestion],
    travel: Euclidean,
    scripted: Any,
) -> None:
    """When one batch falls back the advice is the heuristic's for that
    batch, its outcome is the worst of the calls, and each call is
    counted."""
    one = '{"assignments": [{"order": "o1", "driver": "a"}]}'
    backend = scripted(
        Completion(one, 0.1), Completion(None, 2.0, timed_out=True)
    )
    advisor = Advisor(backend, ManualClock(), AdvisorConfig(batch_size=1))
    advice = advisor.assign(question_of(), travel)
    assert advice.assignments == {"o1": "a", "o2": "b"}
    assert (advice.outcome, advice.source) == (Outcome.TIMEOUT, "heuristic")
    assert advice.latency_s == pytest.approx(2.1)
    assert only(advisor.counts(), ok=1, timeout=1)


def test_failures_open_the_breaker_and_stop_calls(
    question: AssignmentQuestion, travel: Euclidean, scripted: Any
) -> None:
    """Errors open the breaker; then calls are refused without reaching
    the backend, at no cost, until the cool-down ends and a successful
    trial closes it."""
    clock = ManualClock()
    hooks = Hooks()
    backend = scripted(*[Completion(None, 0.1, error="down")] * 3)
    breaker = BreakerConfig(min_calls=3, cool_down_s=10)
    advisor = Advisor(
        backend, clock, AdvisorConfig(breaker=breaker), None, hooks
    )
    outcomes = [advisor.assign(question, travel).outcome for _ in range(5)]
    assert outcomes == [Outcome.ERROR] * 3 + [Outcome.BREAKER_OPEN] * 2
    assert len(backend.sent) == 3

    backend.completions = [Completion(GOOD, 0.1)]
    clock.advance(10)
    advice = advisor.assign(question, travel)
    assert advice.outcome is Outcome.OK
    assert hooks.states == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]
    assert only(advisor.counts(), error=3, breaker_open=2, ok=1)
    assert [latency for *_, latency in hooks.advice][3:5] == [0.0, 0.0]


def test_rejected_answers_count_as_failures(
    question: AssignmentQuestion, travel: Euclidean, scripted: Any
) -> None:
    """A provider that keeps answering nonsense opens the breaker."""
    breaker = BreakerConfig(min_calls=2)
    advisor = Advisor(
        scripted(Completion("nonsense", 0.1)),
        ManualClock(),
        AdvisorConfig(breaker=breaker),
    )
    for _ in range(2):
        advisor.assign(question, travel)
    assert advisor.breaker.state is BreakerState.OPEN


def plan_and_request() -> tuple[Request, Plan]:
    """A one-order request and a plan serving it."""
    places = (Location("shop", 0, 0), Location("home", 30, 40))
    request = Request(
        places,
        (Order("o1", "shop", "home", due_time=100),),
        (Vehicle("v1", "shop", 2),),
        Euclidean(),
    )
    stops = (
        Stop("o1", StopKind.PICKUP, "shop", 0, 0, 0, 1),
        Stop("o1", StopKind.DELIVERY, "home", 50, 50, 50, 0),
    )
    plan = Plan(
        (Route("v1", stops, 50.0, 50.0),), (), 50.0, SolveStats("test", 0, 0)
    )
    return request, plan


@pytest.mark.parametrize(
    ("text", "outcome", "verdict"),
    [
        ('{"verdict": "accept", "reason": "fine"}', Outcome.OK, "accept"),
        ('{"verdict": "reject", "reason": "late"}', Outcome.OK, "reject"),
        ('{"verdict": "hmm", "reason": "?"}', Outcome.REJECTED, None),
    ],
)
def test_review_keeps_the_plan(
    text: str, outcome: Outcome, verdict: str | None, scripted: Any
) -> None:
    """A review never changes the plan: accepted, rejected or malformed,
    the plan returned is the plan given; the verdict is the model's only
    when its answer was valid."""
    request, plan = plan_and_request()
    advisor = Advisor(scripted(Completion(text, 0.2)), ManualClock())
    review = advisor.review(request, plan)
    assert review.plan is plan
    assert (review.outcome, review.verdict) == (outcome, verdict)
    assert review.source == ("advisor" if verdict else "heuristic")


def test_review_is_cached(scripted: Any) -> None:
    """The same plan reviewed twice calls the model once."""
    request, plan = plan_and_request()
    clock = ManualClock()
    backend = scripted(Completion('{"verdict": "accept", "reason": "ok"}', 1))
    advisor = Advisor(backend, clock, cache=MemoryAnswerCache(60, clock))
    advisor.review(request, plan)
    review = advisor.review(request, plan)
    assert (review.outcome, review.verdict) == (Outcome.CACHE_HIT, "accept")
    assert len(backend.sent) == 1
    assert only(advisor.counts(), ok=1, cache_hit=1)


def test_config_from_dict() -> None:
    """The advisor config loads from plain data, breaker included, and
    names a bad field."""
    config = AdvisorConfig.from_dict(
        {"timeout_s": 0.5, "batch_size": 4, "breaker": {"min_calls": 2}}
    )
    assert (config.timeout_s, config.batch_size) == (0.5, 4)
    assert config.breaker.min_calls == 2
    for data, field in (
        ({"timeout_s": 0}, "advisor.timeout_s"),
        ({"batch_size": 0}, "advisor.batch_size"),
        ({"cache_precision": -1}, "advisor.cache_precision"),
        ({"batch": 3}, "advisor.batch"),
        ({"breaker": {"window_s": -1}}, "breaker.window_s"),
    ):
        with pytest.raises(InvalidRequestError) as caught:
            AdvisorConfig.from_dict(data)
        assert caught.value.field == field
