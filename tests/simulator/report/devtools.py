"""A page opened in headless Chromium, observed through the DevTools
protocol.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol
commands from file descriptor 3 and writes replies and events to 4, as
JSON messages each ended by a NUL byte, so no WebSocket client is
needed. :func:`open_page` loads a page, waits for its load event, and
returns what a user would have met: console errors, uncaught
exceptions, failed or outgoing network requests, the page's answers to
a few DOM questions, and a screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
)
"""The flags the issue asks for, as CI runs them."""

TIMEOUT_S = 60.0
"""How long to wait for one reply or for the load event."""


def chromium() -> str | None:
    """The Chromium executable on PATH, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Visit:
    """What loading a page showed."""

    errors: list[str] = field(default_factory=list)
    """Console errors, uncaught exceptions and log entries at error
    level."""
    requests: list[str] = field(default_factory=list)
    """Every URL the page asked for, the page's own included."""
    failed: list[str] = field(default_factory=list)
    """Requests that failed, with the reason."""
    answers: dict[str, Any] = field(default_factory=dict)
    """The value of each expression evaluated in the loaded page."""
    screenshot: bytes = b""
    """A PNG of the whole page."""


class _Pipe:
    """Protocol messages over Chromium's debugging pipe."""

    def __init__(self, to_browser: int, from_browser: int) -> None:
        self._to = to_browser
        self._from = from_browser
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(
        self, method: str, session: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """Send a command and return its result; events meanwhile are
        kept in :attr:`events`."""
        self._next_id += 1
        message: dict[str, Any] = {
            "id": self._next_id,
            "method": method,
            "params": params,
        }
        if session is not None:
            message["sessionId"] = session
        os.write(self._to, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str) -> None:
        """Read events until one named ``method`` has arrived."""
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._receive())

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from], [], [], max(left, 0))
            if not ready:
                raise TimeoutError(f"no message from Chromium in {TIMEOUT_S}s")
            chunk = os.read(self._from, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed the debugging pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed


def open_page(
    executable: str, url: str, profile: Path, questions: dict[str, str]
) -> Visit:
    """Load ``url`` in a fresh headless Chromium and report the visit.

    ``questions`` maps names to JavaScript expressions evaluated once the
    page has loaded; their values land in :attr:`Visit.answers`.
    """
    commands_read, commands_write = os.pipe()
    replies_read, replies_write = os.pipe()

    # bash (not dash, which knows only descriptors 0-9) puts the pipe
    # on descriptors 3 and 4, then becomes Chromium; pass_fds keeps the
    # two ends open across the exec.
    wiring = f'exec "$0" "$@" 3<&{commands_read} 4>&{replies_write}'
    process = subprocess.Popen(
        [
            "bash",
            "-c",
            wiring,
            executable,
            *CHROMIUM_FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--window-size=1280,900",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(commands_read, replies_write),
    )
    os.close(commands_read)
    os.close(replies_write)
    pipe = _Pipe(commands_write, replies_read)
    try:
        return _visit(pipe, url, questions)
    finally:
        os.close(commands_write)
        os.close(replies_read)
        process.terminate()
        try:
            process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _visit(pipe: _Pipe, url: str, questions: dict[str, str]) -> Visit:
    target = pipe.call("Target.createTarget", url="about:blank")
    attached = pipe.call(
        "Target.attachToTarget", targetId=target["targetId"], flatten=True
    )
    session = attached["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        pipe.call(f"{domain}.enable", session)
    pipe.events.clear()

    pipe.call("Page.navigate", session, url=url)
    pipe.wait_for("Page.loadEventFired")

    visit = Visit()
    for name, expression in questions.items():
        answer = pipe.call(
            "Runtime.evaluate",
            session,
            expression=expression,
            returnByValue=True,
        )
        visit.answers[name] = answer["result"].get("value")
    shot = pipe.call(
        "Page.captureScreenshot",
        session,
        format="png",
        captureBeyondViewport=True,
    )
    visit.screenshot = base64.b64decode(shot["data"])
    _read_events(pipe.events, visit)
    return visit


def _read_events(events: list[dict[str, Any]], visit: Visit) -> None:
    for event in events:
        method = event.get("method")
        params = event.get("params", {})
        if method == "Runtime.exceptionThrown":
            visit.errors.append(json.dumps(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and params["type"] in (
            "error",
            "assert",
        ):
            visit.errors.append(json.dumps(params["args"]))
        elif (
            method == "Log.entryAdded" and params["entry"]["level"] == "error"
        ):
            visit.errors.append(params["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            visit.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            visit.failed.append(params["errorText"])
