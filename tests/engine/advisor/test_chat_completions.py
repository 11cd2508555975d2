"""Tests of the OpenAI-compatible client against httpx's mock transport
(the stand-in server tests cover real HTTP)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from engine.advisor import ChatCompletionsBackend
from engine.errors import InvalidRequestError

MESSAGES = [{"role": "user", "content": "{}"}]


def completion_body(content: Any) -> dict[str, Any]:
    return {
        "choices": [{"message": {"role": "assistant", "content": content}}]
    }


def backend_with(
    handler: Any, api_key: str | None = "sk-test"
) -> ChatCompletionsBackend:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return ChatCompletionsBackend(
        "http://llm.test/v1/", "tiny", api_key, client=client
    )


def test_request_shape_and_answer() -> None:
    """The client POSTs model, messages, temperature 0 and JSON mode to
    {base_url}/chat/completions with a bearer key, and returns the first
    choice's content."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=completion_body('{"ok": 1}'))

    completion = backend_with(handler).complete(MESSAGES, timeout=1.0)
    assert completion.text == '{"ok": 1}'
    assert completion.error is None
    assert not completion.timed_out
    assert completion.latency_s >= 0

    (request,) = seen
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {
        "model": "tiny",
        "messages": MESSAGES,
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }


def test_no_key_no_authorization_header() -> None:
    """Without a key no Authorization header is sent."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=completion_body("x"))

    backend_with(handler, api_key=None).complete(MESSAGES, 1.0)
    assert "Authorization" not in seen[0].headers


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(503, json={"error": {}}), "HTTP 503"),
        (httpx.Response(200, text="<html>"), "not a chat completion"),
        (httpx.Response(200, json={"choices": []}), "not a chat completion"),
        (httpx.Response(200, json=completion_body(None)), "not a chat"),
    ],
    ids=["status", "not-json", "no-choice", "no-content"],
)
def test_bad_responses_are_reported_not_raised(
    response: httpx.Response, error: str
) -> None:
    """An error status or a response of the wrong shape is an error in
    the completion, never an exception."""
    completion = backend_with(lambda _: response).complete(MESSAGES, 1.0)
    assert completion.text is None
    assert completion.error is not None
    assert error in completion.error


@pytest.mark.parametrize(
    ("exception", "timed_out"),
    [
        (httpx.ReadTimeout("slow"), True),
        (httpx.ConnectError("refused"), False),
    ],
)
def test_transport_failures_are_reported(
    exception: httpx.HTTPError, timed_out: bool
) -> None:
    """A timeout is reported as timed out, a transport error as an
    error; neither raises."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exception

    completion = backend_with(handler).complete(MESSAGES, 1.0)
    assert completion.timed_out is timed_out
    assert (completion.error is not None) is not timed_out


def test_from_env() -> None:
    """The environment gives URL, model and key, with OPENAI_API_KEY as
    the key's fallback; a missing model is bad input."""
    with ChatCompletionsBackend.from_env(
        {"BARQ_ADVISOR_MODEL": "m", "OPENAI_API_KEY": "k"}
    ) as backend:
        assert backend.url == "https://api.openai.com/v1/chat/completions"
        assert backend.model == "m"
    with ChatCompletionsBackend.from_env(
        {"BARQ_ADVISOR_URL": "http://x:1/v1", "BARQ_ADVISOR_MODEL": "m"}
    ) as backend:
        assert backend.url == "http://x:1/v1/chat/completions"
    with pytest.raises(InvalidRequestError, match="BARQ_ADVISOR_MODEL"):
        ChatCompletionsBackend.from_env({})


def test_bad_url_is_bad_input() -> None:
    """A base URL that is not http(s) is rejected when the backend is
    made."""
    with pytest.raises(InvalidRequestError, match=r"advisor\.url"):
        ChatCompletionsBackend("ftp://x", "m", None)
