"""A stand-in LLM provider speaking the OpenAI chat-completions protocol.

The server answers ``POST /v1/chat/completions`` (and
``/chat/completions``) with a :class:`~engine.advisor.ModelledBackend`
behind it, so that live runs and tests drive the real HTTP client over
real HTTP against a provider whose behaviour is known:

- it sleeps the drawn latency before answering (fault windows are
  measured in seconds since the server started);
- in an outage it answers ``503 Service Unavailable`` at once; a modelled
  provider error is a ``500``;
- a malformed answer is a ``200`` whose message content is bad;
- a request that is not a chat completion asking an advisor question is
  a ``400``, and any other path a ``404``, with an OpenAI-style error
  body.

Use it in a thread as a context manager, which yields the base URL::

    with StandInServer(ModelConfig(), seed=1) as base_url:
        backend = ChatCompletionsBackend(base_url, "barq-standin", None)

or from the command line: ``barq advisor serve``. Stopping the server
wakes every handler that is still sleeping, and it then closes without
answering.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.advisor import ModelConfig, ModelledBackend
from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from types import TracebackType

log = logging.getLogger(__name__)

PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
"""The paths that answer chat completions."""

MODEL_NAME = "barq-standin"
"""The model name the server reports when a request names none."""


class _SinceStart:
    """Seconds since the server was made: the clock of its fault windows."""

    def __init__(self) -> None:
        self._origin = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._origin


class _Server(ThreadingHTTPServer):
    """The HTTP server, holding the stand-in it serves."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], standin: StandInServer):
        self.standin = standin
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10.0
    """Seconds a client may take to send its request."""

    def do_POST(self) -> None:
        """Answer a chat completion, or say what is wrong with it."""
        if self.path not in PATHS:
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}")
            return
        try:
            body = self._body()
        except ValueError as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
            return

        standin = self.server.standin
        standin.note_call()
        try:
            answer = standin.backend.answer(body["messages"])
        except InvalidRequestError as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
            return

        if standin.stopping.wait(answer.latency_s):
            self.close_connection = True
            return
        if answer.fault == "outage":
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, "modelled outage")
        elif answer.fault == "error":
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "modelled error")
        else:
            self._send(HTTPStatus.OK, standin.completion(body, answer.text))

    def _body(self) -> dict[str, Any]:
        """The request body, checked to be a chat completion request."""
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError("the body is not JSON") from None
        if not isinstance(body, dict):
            raise ValueError("the body is not a JSON object")
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise ValueError(
                '"messages" must be a list of {"role", "content"} strings'
            )
        return body

    def _error(self, status: HTTPStatus, message: str) -> None:
        error = {"message": message, "type": status.phrase, "code": status}
        self._send(status, {"error": error})

    def _send(self, status: HTTPStatus, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError as error:
            # The client gave up waiting (its timeout): nothing to answer.
            log.debug("stand-in could not answer: %s", error)
            self.close_connection = True

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("stand-in %s: " + fmt, self.address_string(), *args)


class StandInServer:
    """An OpenAI-compatible chat-completions server driven by a model.

    Parameters
    ----------
    config
        The modelled provider: latency, errors, answer quality, windows.
    seed
        Seed of the model's random stream.
    host, port
        Where to listen; port 0 picks a free port.

    The socket is bound when the server is made, so a port in use raises
    :class:`OSError` here; :meth:`start` then serves in a thread.
    """

    def __init__(
        self,
        config: ModelConfig,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.backend = ModelledBackend(
            config, _SinceStart(), np.random.default_rng(seed)
        )
        self.stopping = threading.Event()
        self._ids = count(1)
        self._calls = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._httpd = _Server((host, port), self)

    @property
    def base_url(self) -> str:
        """The API root clients are given, ending in ``/v1``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def calls(self) -> int:
        """How many chat-completion requests have reached the model."""
        with self._lock:
            return self._calls

    def configure(self, config: ModelConfig) -> None:
        """Change the modelled provider from the next request on."""
        self.backend.config = config

    def note_call(self) -> None:
        """Count one chat-completion request."""
        with self._lock:
            self._calls += 1

    def completion(self, body: dict[str, Any], text: str | None) -> Any:
        """The chat-completion response carrying ``text``."""
        return {
            "id": f"chatcmpl-standin-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or MODEL_NAME,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }

    def start(self) -> str:
        """Serve in a background thread; returns :attr:`base_url`."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="barq-standin",
            daemon=True,
        )
        self._thread.start()
        log.info("stand-in advisor serving at %s", self.base_url)
        return self.base_url

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted, then stop."""
        log.info("stand-in advisor serving at %s", self.base_url)
        try:
            self._httpd.serve_forever()
        finally:
            self.stopping.set()
            self._httpd.server_close()

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers, and close the socket."""
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
