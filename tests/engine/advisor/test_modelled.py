"""Tests of the modelled provider: determinism for a seed, fault windows,
timeouts, and the quality of its answers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from engine.advisor import (
    FaultWindow,
    LatencyModel,
    ModelConfig,
    ModelledBackend,
    nearest_feasible,
)
from engine.advisor.heuristic import estimate
from engine.advisor.prompt import (
    AnswerRejected,
    assign_messages,
    parse_assignments,
)
from engine.clock import ManualClock
from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from engine.advisor import AssignmentQuestion
    from engine.travel import Euclidean

Messages = list[dict[str, str]]


@pytest.fixture
def messages(question: AssignmentQuestion, travel: Euclidean) -> Messages:
    """The messages of the default question."""
    return assign_messages(question, estimate(question, travel))


def backend(
    config: ModelConfig, seed: int = 7, clock: ManualClock | None = None
) -> ModelledBackend:
    return ModelledBackend(
        config, clock or ManualClock(), np.random.default_rng(seed)
    )


def run(model: ModelledBackend, messages: Messages, calls: int) -> list[Any]:
    """(text, latency, fault) of ``calls`` answers in turn."""
    answers = [model.answer(messages) for _ in range(calls)]
    return [(a.text, a.latency_s, a.fault) for a in answers]


def test_same_seed_same_answers(messages: Messages) -> None:
    """A seed fixes every latency, error and answer of a sequence of
    calls; another seed changes the latencies."""
    config = ModelConfig(error_rate=0.2, worse_rate=0.2, malformed_rate=0.2)
    first = run(backend(config, seed=3), messages, 40)
    assert first == run(backend(config, seed=3), messages, 40)
    other = run(backend(config, seed=4), messages, 40)
    assert [a[1] for a in first] != [a[1] for a in other]
    kinds = {fault for *_, fault in first}
    assert kinds == {None, "error"}


def test_healthy_answer_is_the_heuristic_answer(
    question: AssignmentQuestion, travel: Euclidean, messages: Messages
) -> None:
    """With no worse or malformed chance the answer is the heuristic's,
    and it passes strict parsing."""
    completion = backend(ModelConfig()).complete(messages, timeout=60)
    assert completion.error is None
    assert not completion.timed_out
    assert completion.text is not None
    answer = parse_assignments(completion.text, estimate(question, travel))
    assert answer == nearest_feasible(question, travel)


def test_lognormal_latency_has_its_median() -> None:
    """Drawn lognormal latencies centre on the configured median."""
    model = LatencyModel(median_s=1.5, sigma=0.4)
    rng = np.random.default_rng(11)
    draws = [model.draw(rng) for _ in range(4001)]
    assert 1.4 < float(np.median(draws)) < 1.6
    assert min(draws) > 0


def test_constant_and_uniform_latency() -> None:
    """Constant latency is its median; uniform stays in its bounds."""
    rng = np.random.default_rng(0)
    assert LatencyModel("constant", median_s=0.25).draw(rng) == 0.25
    uniform = LatencyModel("uniform", low_s=0.1, high_s=0.3)
    assert all(0.1 <= uniform.draw(rng) <= 0.3 for _ in range(100))


def test_outage_window_fails_at_once_then_recovers(
    messages: Messages,
) -> None:
    """Inside an outage window every call is an immediate outage; before
    and after it the provider answers."""
    clock = ManualClock()
    window = FaultWindow(start=10, end=20, kind="outage")
    model = backend(ModelConfig(windows=(window,)), clock=clock)
    seen = []
    for _ in range(4):
        answer = model.answer(messages)
        seen.append((clock.now(), answer.fault, answer.latency_s > 0))
        clock.advance(7)
    assert seen == [
        (0, None, True),
        (7, None, True),
        (14, "outage", False),
        (21, None, True),
    ]


def test_slow_window_multiplies_latency(messages: Messages) -> None:
    """Inside a slow window the same draws are ``factor`` times longer."""
    slow = FaultWindow(0, 100, "slow", factor=4.0)
    normal = run(backend(ModelConfig(), seed=5), messages, 5)
    slowed = run(backend(ModelConfig(windows=(slow,)), seed=5), messages, 5)
    assert [s[1] for s in slowed] == pytest.approx([4 * n[1] for n in normal])
    assert [s[0] for s in slowed] == [n[0] for n in normal]


def test_timeout_cuts_a_late_answer(messages: Messages) -> None:
    """An answer later than the timeout is reported as timed out, with
    the timeout as its latency and no text."""
    config = ModelConfig(latency=LatencyModel("constant", median_s=3.0))
    completion = backend(config).complete(messages, timeout=2.0)
    assert completion.timed_out
    assert completion.latency_s == 2.0
    assert completion.text is None


def test_error_rate_one_always_fails(messages: Messages) -> None:
    """With an error rate of one every call reports an error."""
    model = backend(ModelConfig(error_rate=1.0))
    completions = [model.complete(messages, 60) for _ in range(10)]
    assert all(c.error == "modelled error" for c in completions)


def test_malformed_answers_are_all_rejected(
    question: AssignmentQuestion, travel: Euclidean, messages: Messages
) -> None:
    """Every malformed answer fails strict parsing, whatever its flaw."""
    estimates = estimate(question, travel)
    model = backend(ModelConfig(malformed_rate=1.0))
    texts = {model.answer(messages).text for _ in range(30)}
    assert len(texts) == 4
    for text in texts:
        assert text is not None
        with pytest.raises(AnswerRejected):
            parse_assignments(text, estimates)


def test_worse_answers_are_valid_but_not_the_heuristic(
    question_of: Any, travel: Euclidean
) -> None:
    """A worse answer passes the rules but avoids the heuristic's driver
    where another feasible one has room."""
    question = question_of(orders=question_of().orders[:1])
    estimates = estimate(question, travel)
    model = backend(ModelConfig(worse_rate=1.0))
    for _ in range(5):
        text = model.answer(assign_messages(question, estimates)).text
        assert text is not None
        assert parse_assignments(text, estimates) == {"o1": "b"}


def test_review_answers_follow_the_rates() -> None:
    """A review is accepted by default and rejected when worse."""
    messages = [{"role": "user", "content": '{"task": "review"}'}]
    accept = backend(ModelConfig()).answer(messages).text
    reject = backend(ModelConfig(worse_rate=1.0)).answer(messages).text
    assert accept is not None
    assert reject is not None
    assert json.loads(accept)["verdict"] == "accept"
    assert json.loads(reject)["verdict"] == "reject"


def test_bad_question_is_an_error_not_a_crash() -> None:
    """Messages without a question make ``answer`` raise bad input and
    ``complete`` report an error."""
    messages = [{"role": "user", "content": "hello"}]
    model = backend(ModelConfig())
    with pytest.raises(InvalidRequestError):
        model.answer(messages)
    assert model.complete(messages, 1.0).error is not None


def test_config_from_dict_with_paths() -> None:
    """A model config loads from plain data; a bad value names its full
    path."""
    config = ModelConfig.from_dict(
        {
            "latency": {"kind": "lognormal", "median_s": 1.2, "sigma": 0.3},
            "error_rate": 0.1,
            "windows": [{"start": 0, "end": 60, "kind": "slow", "factor": 3}],
        }
    )
    assert config.latency.median_s == 1.2
    assert config.windows == (FaultWindow(0, 60, "slow", 3),)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"latency": {"sigma": -1}}, "model.latency.sigma"),
        ({"latency": {"kind": "gamma"}}, "model.latency.kind"),
        ({"error_rate": 2}, "model.error_rate"),
        ({"windows": [{"start": 5, "end": 1, "kind": "slow"}]}, "end"),
        ({"windows": [{"start": 0, "end": 1, "kind": "x"}]}, "kind"),
        ({"worse_rate": 0.6, "malformed_rate": 0.6}, "model.malformed_rate"),
        ({"rate": 0.1}, "model.rate"),
    ]
    for data, field in bad:
        with pytest.raises(InvalidRequestError) as caught:
            ModelConfig.from_dict(data)
        assert caught.value.field.endswith(field), caught.value.field
