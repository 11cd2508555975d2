"""Tests of the stand-in LLM provider over real HTTP, with the advisor's
real client, and of ``barq advisor serve``."""

from __future__ import annotations

import math
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.advisor import (
    Advisor,
    AdvisorConfig,
    AssignmentQuestion,
    BreakerConfig,
    BreakerState,
    Candidate,
    ChatCompletionsBackend,
    FaultWindow,
    LatencyModel,
    ModelConfig,
    Outcome,
    nearest_feasible,
)
from engine.advisor.heuristic import estimate
from engine.advisor.prompt import assign_messages
from engine.clock import ManualClock
from engine.model import Location, Order
from engine.travel import Euclidean
from simulator.cli import main
from simulator.standin import StandInServer

ROOT = Path(__file__).resolve().parents[2]

FAST = ModelConfig(latency=LatencyModel("constant", median_s=0.01))
"""A provider that answers well in ten milliseconds."""

TRAVEL = Euclidean()


def small_question() -> AssignmentQuestion:
    """Two orders and two drivers: ``o1`` goes to ``a``, ``o2`` to
    ``b``."""
    places = (
        Location("shop", 0, 0),
        Location("home", 100, 0),
        Location("mall", 0, 100),
        Location("park", 100, 100),
    )
    return AssignmentQuestion(
        orders=(
            Order("o1", "shop", "home"),
            Order("o2", "mall", "park", quantity=2),
        ),
        locations=places,
        candidates=(
            Candidate("a", Location("a", 10, 0), 0.0, 2),
            Candidate("b", Location("b", 0, 90), 0.0, 3),
        ),
        now=0.0,
    )


class Hooks:
    """Keeps the breaker's transitions."""

    def __init__(self) -> None:
        self.states: list[BreakerState] = []

    def on_advice(self, kind: Any, outcome: Outcome, latency_s: float) -> None:
        pass

    def on_breaker(self, state: BreakerState) -> None:
        self.states.append(state)


def messages() -> list[dict[str, str]]:
    question = small_question()
    return assign_messages(question, estimate(question, TRAVEL))


def test_ok_answer_over_http() -> None:
    """A healthy stand-in answers through the real client; the advice is
    ok, from the advisor, and equals the heuristic's answer."""
    question = small_question()
    with (
        StandInServer(FAST, seed=1) as url,
        ChatCompletionsBackend(url, "barq-standin", None) as backend,
    ):
        advisor = Advisor(backend, ManualClock())
        advice = advisor.assign(question, TRAVEL)
    assert (advice.outcome, advice.source) == (Outcome.OK, "advisor")
    assert advice.assignments == nearest_feasible(question, TRAVEL)
    assert advice.latency_s > 0


@pytest.mark.timeout(10)
def test_slow_answer_becomes_the_fallback_at_the_timeout() -> None:
    """A stand-in far slower than the timeout (30 s against 0.2 s) gives
    a timeout outcome and the heuristic's answer; the test's own timeout
    bounds how long that takes."""
    slow = ModelConfig(latency=LatencyModel("constant", median_s=30.0))
    question = small_question()
    with (
        StandInServer(slow) as url,
        ChatCompletionsBackend(url, "barq-standin", None) as backend,
    ):
        advisor = Advisor(backend, ManualClock(), AdvisorConfig(timeout_s=0.2))
        advice = advisor.assign(question, TRAVEL)
    assert (advice.outcome, advice.source) == (Outcome.TIMEOUT, "heuristic")
    assert advice.assignments == nearest_feasible(question, TRAVEL)
    assert advisor.counts()[Outcome.TIMEOUT] == 1


def test_malformed_answer_is_rejected() -> None:
    """A 200 answer with malformed content is rejected and the heuristic's
    answer used, over several draws of the flaw."""
    config = ModelConfig(
        latency=LatencyModel("constant", median_s=0.0), malformed_rate=1.0
    )
    question = small_question()
    with (
        StandInServer(config, seed=2) as url,
        ChatCompletionsBackend(url, "barq-standin", None) as backend,
    ):
        breaker = BreakerConfig(min_calls=100)
        advisor = Advisor(
            backend, ManualClock(), AdvisorConfig(breaker=breaker)
        )
        advice = [advisor.assign(question, TRAVEL) for _ in range(6)]
    assert {a.outcome for a in advice} == {Outcome.REJECTED}
    assert all(a.assignments == {"o1": "a", "o2": "b"} for a in advice)
    assert advisor.counts()[Outcome.REJECTED] == 6


def test_outage_opens_the_breaker_and_recovery_closes_it() -> None:
    """503s from an outage count as errors until the breaker opens; while
    open the advisor does not call the stand-in at all; after the
    cool-down on the advisor's clock a successful trial call closes it.
    Every call is counted once."""
    outage = ModelConfig(windows=(FaultWindow(0, math.inf, "outage"),))
    clock = ManualClock()
    hooks = Hooks()
    config = AdvisorConfig(
        timeout_s=2.0, breaker=BreakerConfig(min_calls=3, cool_down_s=30)
    )
    question = small_question()
    server = StandInServer(outage)
    with (
        server as url,
        ChatCompletionsBackend(url, "barq-standin", None) as backend,
    ):
        advisor = Advisor(backend, clock, config, hooks=hooks)
        failed = [advisor.assign(question, TRAVEL) for _ in range(3)]
        refused = [advisor.assign(question, TRAVEL) for _ in range(4)]
        calls_while_open = server.calls

        server.configure(FAST)
        clock.advance(30)
        recovered = advisor.assign(question, TRAVEL)

    assert [a.outcome for a in failed] == [Outcome.ERROR] * 3
    assert [a.outcome for a in refused] == [Outcome.BREAKER_OPEN] * 4
    assert all(a.latency_s == 0 for a in refused)
    assert calls_while_open == 3
    assert server.calls == 4
    assert (recovered.outcome, recovered.source) == (Outcome.OK, "advisor")
    assert hooks.states == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]
    counts = advisor.counts()
    assert counts[Outcome.ERROR] == 3
    assert counts[Outcome.BREAKER_OPEN] == 4
    assert counts[Outcome.OK] == 1
    assert sum(counts.values()) == 8


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat/completions"])
def test_response_has_the_openai_shape(path: str) -> None:
    """Both paths answer a chat completion in the OpenAI shape, echoing
    the model name."""
    with StandInServer(FAST) as url:
        root = url.removesuffix("/v1")
        response = httpx.post(
            root + path, json={"model": "gpt-x", "messages": messages()}
        )
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == "gpt-x"
    assert data["id"].startswith("chatcmpl-")
    (choice,) = data["choices"]
    assert choice["message"]["role"] == "assistant"
    assert '"assignments"' in choice["message"]["content"]
    assert choice["finish_reason"] == "stop"


def test_faults_and_bad_requests_have_status_codes() -> None:
    """An outage is a 503, a modelled error a 500, a request that is not
    an advisor question a 400, another path a 404, each with an
    OpenAI-style error body."""
    failing = ModelConfig(
        latency=LatencyModel("constant", median_s=0.0), error_rate=1.0
    )
    down = ModelConfig(windows=(FaultWindow(0, math.inf, "outage"),))
    server = StandInServer(failing)
    with server as url, httpx.Client() as client:
        post = f"{url}/chat/completions"
        statuses = [client.post(post, json={"messages": messages()})]
        server.configure(down)
        statuses.append(client.post(post, json={"messages": messages()}))
        statuses.append(client.post(post, content=b"not json"))
        statuses.append(client.post(post, json={"messages": "hi"}))
        statuses.append(
            client.post(
                post, json={"messages": [{"role": "user", "content": "hi"}]}
            )
        )
        statuses.append(client.post(f"{url}/embeddings", json={}))
    assert [r.status_code for r in statuses] == [500, 503, 400, 400, 400, 404]
    assert all("message" in r.json()["error"] for r in statuses)


def test_same_seed_same_answers_over_http() -> None:
    """Two stand-ins with one seed give the same sequence of answers."""
    config = ModelConfig(
        latency=LatencyModel("constant", median_s=0.0),
        worse_rate=0.4,
        malformed_rate=0.3,
    )

    def answers() -> list[str]:
        with StandInServer(config, seed=9) as url, httpx.Client() as client:
            return [
                client.post(
                    f"{url}/chat/completions", json={"messages": messages()}
                ).json()["choices"][0]["message"]["content"]
                for _ in range(8)
            ]

    first = answers()
    assert first == answers()
    assert len(set(first)) > 1


# barq advisor serve


@pytest.mark.parametrize(
    "argv",
    [
        ["--error-rate", "1.5"],
        ["--malformed-rate", "-0.1"],
        ["--sigma", "-1"],
        ["--median-latency", "0"],
        ["--port", "70000"],
        ["--seed", "-3"],
        ["--seed", "x"],
    ],
)
def test_serve_rejects_bad_values(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Out-of-range options exit 2 with a message naming the option."""
    with pytest.raises(SystemExit) as caught:
        main(["advisor", "serve", *argv])
    assert caught.value.code == 2
    assert f"argument {argv[0]}" in capsys.readouterr().err


def test_serve_rejects_rates_over_one_together(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Worse and malformed rates summing over one exit 2 naming the
    option and the bound."""
    argv = [
        "advisor",
        "serve",
        "--worse-rate",
        "0.7",
        "--malformed-rate",
        "0.6",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("barq: error: --malformed-rate = 0.6")
    assert "0.3" in err


def test_serve_rejects_a_port_in_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A port already taken exits 2 naming host and port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["advisor", "serve", "--port", str(port)]) == 2
    assert f"127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_serve_answers_until_interrupted() -> None:
    """``barq advisor serve`` prints its URL, answers chat completions,
    and exits 0 on Ctrl-C."""
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from simulator.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["advisor", "serve", "--port", "0", "--median-latency", "0.01"]
    process = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://\S+/v1)", line)
        assert match is not None, line
        response = httpx.post(
            f"{match[1]}/chat/completions", json={"messages": messages()}
        )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped" in out
