"""Where the advisor's answers come from: the backend protocol, and a
client for any OpenAI-compatible chat-completions endpoint.

A backend takes chat messages and a timeout and returns a
:class:`Completion`. It never raises for a failed call: a transport
error, an HTTP error status or a response of the wrong shape is reported
in ``error``, a timeout in ``timed_out``, so that the advisor counts
every call as exactly one outcome. The modelled backend for simulations
lives in :mod:`engine.advisor.modelled`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.openai.com/v1"
"""The base URL used when ``BARQ_ADVISOR_URL`` is not set."""


@dataclass(frozen=True, slots=True)
class Completion:
    """What one call to a backend gave.

    ``text`` is the model's answer, or ``None`` when there is none;
    ``latency_s`` the seconds the call took (measured, or modelled and
    then at most the timeout); ``error`` says why a call failed;
    ``timed_out`` is true when no answer came within the timeout.
    """

    text: str | None
    latency_s: float
    error: str | None = None
    timed_out: bool = False


class AdvisorBackend(Protocol):
    """Answers chat messages within a timeout, never raising for a
    failed call."""

    def complete(
        self, messages: list[dict[str, str]], timeout: float
    ) -> Completion:
        """The model's answer to ``messages``, given at most ``timeout``
        seconds."""
        ...


class ChatCompletionsBackend:
    """A client of an OpenAI-compatible ``POST {base_url}/chat/completions``.

    Parameters
    ----------
    base_url
        The API root, for example ``https://api.openai.com/v1`` or the
        stand-in server's ``http://127.0.0.1:8090/v1``.
    model
        The model name sent with every request.
    api_key
        Sent as a bearer token when given.
    client
        An :class:`httpx.Client` to use; by default the backend makes one
        and :meth:`close` closes it.
    json_mode
        Ask for a JSON object answer (``response_format``); turn it off
        for endpoints that do not know the field.

    Notes
    -----
    httpx applies a timeout to each network wait (connect, write, read),
    not to the call as a whole, so the backend also measures the whole
    call: an answer that arrives after ``timeout`` seconds is reported as
    timed out, not used.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        client: httpx.Client | None = None,
        *,
        json_mode: bool = True,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidRequestError(
                "advisor.url", base_url, "must be an http:// or https:// URL"
            )
        if not model:
            raise InvalidRequestError(
                "advisor.model", model, "must name a model"
            )
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.json_mode = json_mode
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None
    ) -> ChatCompletionsBackend:
        """A backend configured by the environment.

        ``BARQ_ADVISOR_URL`` (default :data:`DEFAULT_URL`),
        ``BARQ_ADVISOR_MODEL`` (required), and ``BARQ_ADVISOR_KEY`` or else
        ``OPENAI_API_KEY`` (optional). ``environ`` replaces
        :data:`os.environ` for tests.
        """
        env = os.environ if environ is None else environ
        model = env.get("BARQ_ADVISOR_MODEL")
        if not model:
            raise InvalidRequestError(
                "BARQ_ADVISOR_MODEL",
                model,
                "must be set to the model the advisor should ask",
            )
        key = env.get("BARQ_ADVISOR_KEY") or env.get("OPENAI_API_KEY")
        return cls(env.get("BARQ_ADVISOR_URL", DEFAULT_URL), model, key)

    def complete(
        self, messages: list[dict[str, str]], timeout: float
    ) -> Completion:
        """POST ``messages`` and return the first choice's content."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
        }
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}

        began = time.perf_counter()
        try:
            response = self._client.post(
                self.url, json=body, headers=self._headers, timeout=timeout
            )
        except httpx.TimeoutException:
            latency = time.perf_counter() - began
            log.info(
                "advisor POST %s: timed out after %.3f s", self.url, latency
            )
            return Completion(None, latency, timed_out=True)
        except httpx.HTTPError as error:
            latency = time.perf_counter() - began
            log.info("advisor POST %s: %s", self.url, error)
            return Completion(None, latency, error=f"transport: {error}")
        latency = time.perf_counter() - began

        log.info(
            "advisor POST %s: %d in %.3f s",
            self.url,
            response.status_code,
            latency,
        )
        if latency > timeout:
            return Completion(None, latency, timed_out=True)
        if response.status_code != httpx.codes.OK:
            return Completion(
                None, latency, error=f"HTTP {response.status_code}"
            )
        text = _content(response)
        if text is None:
            return Completion(
                None, latency, error="response is not a chat completion"
            )
        return Completion(text, latency)

    def close(self) -> None:
        """Close the HTTP client, if this backend made it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> ChatCompletionsBackend:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _content(response: httpx.Response) -> str | None:
    """The first choice's message content, or ``None`` when the response
    does not have the chat-completions shape."""
    try:
        data = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, LookupError, TypeError):
        return None
    return content if isinstance(content, str) else None
