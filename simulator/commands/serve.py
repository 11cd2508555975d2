"""``barq serve``: the HTTP API on uvicorn.

The server warms its solve workers up before it listens, logs one line
per request (logger ``engine.api``), and stops cleanly on SIGINT or
SIGTERM: it finishes the requests in flight, lets the running solves
end, fails the jobs still queued, writes what the storage writer holds,
and closes its connections.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

import uvicorn

from engine.api import ApiConfig, Backends, Runtime, create_app
from engine.api.runtime import MEMORY, MODELLED
from engine.errors import InvalidRequestError
from engine.storage import StorageError
from simulator.commands.arguments import bounded_int

if TYPE_CHECKING:
    import argparse

log = logging.getLogger(__name__)

DEFAULTS = ApiConfig()


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``serve`` to the ``barq`` subcommands."""
    parser = commands.add_parser(
        "serve",
        help="serve the route-optimization HTTP API",
        description="Serve the engine over HTTP (docs/api.md): optimize, "
        "jobs, delivery estimates, driver locations, the fleet advisor, "
        "health, metrics and the OpenAPI document. Stop it with Ctrl-C "
        "or SIGTERM.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=bounded_int(0, 65535),
        default=8000,
        help="port, 0 for any free one (default: 8000)",
    )
    parser.add_argument(
        "--workers",
        type=bounded_int(1, 256),
        default=DEFAULTS.workers,
        help=f"solve worker processes (default: {DEFAULTS.workers})",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="sqlite:///FILE, a file path, or postgresql://... "
        "(default: nothing stored)",
    )
    parser.add_argument(
        "--cache",
        metavar="URL",
        default=MEMORY,
        help=f"{MEMORY} or redis://HOST:PORT/DB (default: {MEMORY})",
    )
    parser.add_argument(
        "--advisor",
        metavar="URL",
        default=MODELLED,
        help=f"{MODELLED}, or the base URL of an OpenAI-compatible API "
        "such as barq advisor serve's http://127.0.0.1:8090/v1; the "
        "model is BARQ_ADVISOR_MODEL (default: barq-standin) "
        f"(default: {MODELLED})",
    )
    parser.add_argument(
        "--queue-timeout",
        type=float,
        default=DEFAULTS.queue_timeout_s,
        metavar="S",
        help="seconds a request waits for a solve worker before it is "
        f"answered 503 (default: {DEFAULTS.queue_timeout_s:g})",
    )
    parser.add_argument(
        "--async-above",
        type=bounded_int(0, 2**31),
        default=DEFAULTS.async_above,
        metavar="N",
        help="requests with more orders become jobs "
        f"(default: {DEFAULTS.async_above})",
    )
    parser.add_argument(
        "--max-time-limit",
        type=float,
        default=DEFAULTS.max_time_limit_s,
        metavar="S",
        help="largest options.time_limit a request may ask for "
        f"(default: {DEFAULTS.max_time_limit_s:g})",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    try:
        config = ApiConfig(
            workers=args.workers,
            async_above=args.async_above,
            queue_timeout_s=args.queue_timeout,
            max_time_limit_s=args.max_time_limit,
        )
    except InvalidRequestError as error:
        option = "--" + error.field.removeprefix("api.").replace("_", "-")
        option = option.removesuffix("-s")
        raise InvalidRequestError(option, error.value, error.rule) from None
    listener = _listen(args.host, args.port)
    backends = Backends(args.cache, args.storage, args.advisor)
    try:
        runtime = Runtime.build(config, backends)
    except InvalidRequestError as error:
        listener.close()
        raise InvalidRequestError(
            f"--{error.field}", error.value, error.rule
        ) from None
    except StorageError as error:
        listener.close()
        raise InvalidRequestError(
            "--storage", args.storage, f"must be reachable ({error})"
        ) from None

    # The command line logs warnings only; a server's log is for one
    # line per request, and where it listens.
    for name in ("engine.api", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.INFO)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime),
            host=args.host,
            port=args.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )
    address, port = listener.getsockname()[:2]
    host = f"[{address}]" if ":" in address else address
    print(
        f"serving http://{host}:{port} with {config.workers} solve "
        "workers, once warmed up (Ctrl-C stops)",
        flush=True,
    )
    server.run(sockets=[listener])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, so that an address
    in use is an error of the options, found before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as error:
        raise InvalidRequestError(
            "--host/--port",
            f"{host}:{port}",
            "must be an address free to listen on "
            f"({os.strerror(error.errno) if error.errno else error})",
        ) from None
