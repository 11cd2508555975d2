"""Helpers of the load tests: ``barq`` as a subprocess, a stand-in of
the HTTP API, and waiting for ``barq serve``.

Locust monkey-patches the process that imports it, so no test imports
it: ``barq load`` and ``locust`` always run as subprocesses. Every
target is on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from engine.codec import request_from_dict
from engine.errors import InvalidRequestError
from simulator.load.serving import barq_command

REPOSITORY = Path(__file__).resolve().parents[3]
SMOKE = REPOSITORY / "scenarios" / "smoke.yaml"


def barq(
    *args: str, timeout: float = 240.0
) -> subprocess.CompletedProcess[str]:
    """``barq ARGS`` in a subprocess of this repository's Python."""
    return subprocess.run(
        barq_command(*args),
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class StandIn:
    """A stand-in of the HTTP API on a thread: the routes ``barq load``
    sends, each answer after ``delay_s``. It checks every optimize body
    with the engine's own reader, answers 422 to a bad one, and knows
    the ETA of every order an optimize named."""

    delay_s: float = 0.0
    base_url: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    planned: set[str] = field(default_factory=set)


def handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            standin.requests.append(("GET", self.path))
            time.sleep(standin.delay_s)
            if self.path == "/healthz":
                self._answer(200, {"status": "ok"})
                return
            found = re.fullmatch(r"/api/orders/([^/]+)/eta", self.path)
            if found and found.group(1) in standin.planned:
                self._answer(200, {"order_id": found.group(1)})
                return
            self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            standin.requests.append(("POST", self.path))
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(standin.delay_s)
            if re.fullmatch(r"/api/drivers/[^/]+/location", self.path):
                point = json.loads(body)
                ok = {"x", "y"} == set(point)
                self._answer(204 if ok else 422, None)
                return
            if self.path != "/api/optimize":
                self._answer(404, {"error": "not found"})
                return
            try:
                request = request_from_dict(json.loads(body))
            except (InvalidRequestError, ValueError) as error:
                standin.rejected.append(str(error))
                self._answer(422, {"error": str(error)})
                return
            standin.planned.update(order.id for order in request.orders)
            self._answer(200, _answer_of(len(request.orders)))

        def _answer(self, status: int, body: Any) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


def _answer_of(orders: int) -> dict[str, Any]:
    stats = {
        "backend": "standin",
        "iterations": 0,
        "wall_s": 0.0,
        "deadline_hit": False,
        "fallback": False,
        "fallback_reason": None,
    }
    return {
        "fingerprint": f"standin-{orders}",
        "cache": "miss",
        "plan": {"routes": [], "unassigned": [], "cost": 0.0, "stats": stats},
        "etas": {},
        "stages": {},
    }
