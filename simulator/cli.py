"""The ``barq`` command line.

Exit codes: 0 success, 1 a regression found by the gate, 2 bad input or
usage. Errors name the file or field, the value, and what is allowed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.advisor import LatencyModel, ModelConfig
from engine.codec import request_from_dict
from engine.errors import InvalidRequestError
from engine.model import Backend, Options, StopKind
from engine.solvers import solve
from simulator.bench.solver import (
    HEADER,
    format_summary,
    instance_paths,
    run_benchmark,
    write_json,
)
from simulator.commands import (
    dashboards,
    gate,
    history,
    load,
    metrics,
    report,
    serve,
    simulate,
)
from simulator.commands.arguments import (
    bounded_int,
    non_negative_float,
    positive_float,
    rate,
)
from simulator.errors import SimulatorError
from simulator.example import example_request
from simulator.standin import StandInServer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.model import Plan, Request

EXIT_OK = 0
EXIT_BAD_INPUT = 2

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"
)
"""The benchmark instances: ``../shared/data/benchmarks`` beside the
repository."""

log = logging.getLogger("simulator")


def _solver_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=[backend.value for backend in Backend],
        default=Backend.AUTO.value,
        help="solver backend (default: auto)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed (default: 0)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="barq",
        description="Route optimisation for last-mile delivery, and the "
        "harness that proves how it performs.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at DEBUG level"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    solve_cmd = commands.add_parser(
        "solve",
        help="plan one request (an embedded example by default)",
        description="Plan a request given as JSON, or a seeded example of "
        "100 orders and 20 couriers, and print the plan's summary.",
    )
    solve_cmd.add_argument(
        "request", nargs="?", type=Path, help="request JSON file"
    )
    solve_cmd.add_argument(
        "--out", type=Path, help="write the whole plan as JSON here"
    )
    solve_cmd.add_argument(
        "--time-limit",
        type=positive_float,
        help="wall-clock budget in seconds (default: the request's, or 1)",
    )
    solve_cmd.add_argument(
        "--work-limit",
        type=int,
        help="stop after this many search iterations (deterministic)",
    )
    _solver_options(solve_cmd)

    bench = commands.add_parser("bench", help="benchmarks")
    suites = bench.add_subparsers(dest="suite", required=True)
    solver = suites.add_parser(
        "solver",
        help="Li & Lim or Solomon instances against best-known solutions",
    )
    solver.add_argument(
        "--set", required=True, choices=["lilim100", "solomon100"]
    )
    solver.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help=f"folder with the sets and bks.csv (default: {DEFAULT_DATA})",
    )
    solver.add_argument(
        "--instances", help="comma-separated instance names (default: all)"
    )
    solver.add_argument(
        "--time-limit",
        type=positive_float,
        required=True,
        help="seconds per instance",
    )
    solver.add_argument("--json", type=Path, help="write results as JSON")
    _solver_options(solver)

    simulate.register(commands)
    load.register(commands)
    metrics.register(commands)
    dashboards.register(commands)
    report.register(commands)
    gate.register(commands)
    history.register(commands)
    serve.register(commands)

    advisor = commands.add_parser("advisor", help="the fleet advisor")
    advisor_actions = advisor.add_subparsers(dest="action", required=True)
    standin = advisor_actions.add_parser(
        "serve",
        help="serve a stand-in LLM provider (OpenAI chat completions)",
        description="Serve POST /v1/chat/completions with modelled "
        "latency, errors and answers, so that live runs exercise the real "
        "advisor client over HTTP. Stop it with Ctrl-C.",
    )
    standin.add_argument(
        "--host", default="127.0.0.1", help="address (default: 127.0.0.1)"
    )
    standin.add_argument(
        "--port",
        type=bounded_int(0, 65535),
        default=8090,
        help="port, 0 for any free one (default: 8090)",
    )
    latency = LatencyModel()
    standin.add_argument(
        "--median-latency",
        type=positive_float,
        default=latency.median_s,
        help="median of the lognormal latency in seconds "
        f"(default: {latency.median_s})",
    )
    standin.add_argument(
        "--sigma",
        type=non_negative_float,
        default=latency.sigma,
        help=f"shape of the lognormal latency (default: {latency.sigma})",
    )
    for option, what in (
        ("--error-rate", "calls that fail with HTTP 500"),
        ("--worse-rate", "answers worse than the heuristic's"),
        ("--malformed-rate", "answers with malformed content"),
    ):
        standin.add_argument(
            option,
            type=rate,
            default=0.0,
            help=f"share of {what} (default: 0)",
        )
    standin.add_argument(
        "--seed",
        type=bounded_int(0, 2**63 - 1),
        default=0,
        help="seed of the model's random stream (default: 0)",
    )
    return parser


def _load_request(path: Path) -> Request:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidRequestError(
            str(path), error.strerror, "must be a readable JSON file"
        ) from None
    except UnicodeDecodeError as error:
        raise InvalidRequestError(
            str(path), error.reason, "must be UTF-8 JSON"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidRequestError(
            f"{path}:{error.lineno}", error.msg, "must be valid JSON"
        ) from None
    return request_from_dict(data)


def _writable(option: str, path: Path) -> None:
    if not path.parent.is_dir():
        raise InvalidRequestError(
            option, str(path), "must be a file in an existing folder"
        )


def _solve(args: argparse.Namespace) -> int:
    if args.request is None:
        request = example_request(seed=args.seed)
        source = "example (100 orders, 20 couriers)"
    else:
        request = _load_request(args.request)
        source = str(args.request)
    base = request.options
    options = Options(
        weights=base.weights,
        time_limit=args.time_limit or base.time_limit,
        work_limit=(
            args.work_limit if args.work_limit is not None else base.work_limit
        ),
        seed=args.seed,
        backend=Backend(args.backend),
    )
    plan = solve(dataclasses.replace(request, options=options))
    print(_plan_summary(source, plan))
    if args.out is not None:
        _writable("--out", args.out)
        args.out.write_text(json.dumps(plan.to_dict(), indent=1) + "\n")
        print(f"plan written to {args.out}")
    return EXIT_OK


def _plan_summary(source: str, plan: Plan) -> str:
    stats = plan.stats
    served = sum(
        1
        for route in plan.routes
        for stop in route.stops
        if stop.kind is StopKind.DELIVERY
    )
    lines = [
        f"request   {source}",
        f"backend   {stats.backend}"
        + (f" (fallback: {stats.fallback_reason})" if stats.fallback else ""),
        f"routes    {len(plan.routes)}",
        f"served    {served} orders, {len(plan.unassigned)} unassigned",
        f"travel    {plan.travel_time / 60:.1f} min",
        f"cost      {plan.cost:.2f}",
        f"search    {stats.iterations} iterations in {stats.wall_s:.3f} s",
    ]
    return "\n".join(lines)


def _bench_solver(args: argparse.Namespace) -> int:
    names = args.instances.split(",") if args.instances else None
    instance_paths(args.data, args.set, names)
    if args.json is not None:
        _writable("--json", args.json)
    print(HEADER, flush=True)
    result = run_benchmark(
        args.data,
        args.set,
        args.time_limit,
        names=names,
        backend=Backend(args.backend),
        seed=args.seed,
        progress=sys.stdout,
    )
    print(format_summary(result))
    if args.json is not None:
        write_json(result, args.json)
    return EXIT_OK


def _advisor_serve(args: argparse.Namespace) -> int:
    try:
        config = ModelConfig(
            latency=LatencyModel(
                median_s=args.median_latency, sigma=args.sigma
            ),
            error_rate=args.error_rate,
            worse_rate=args.worse_rate,
            malformed_rate=args.malformed_rate,
        )
    except InvalidRequestError as error:
        option = "--" + error.field.replace("_", "-")
        raise InvalidRequestError(option, error.value, error.rule) from None
    try:
        server = StandInServer(config, args.seed, args.host, args.port)
    except OSError as error:
        raise InvalidRequestError(
            "--host/--port",
            f"{args.host}:{args.port}",
            f"must be an address free to listen on ({error.strerror})",
        ) from None
    print(f"stand-in advisor at {server.base_url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``barq`` command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if hasattr(args, "handler"):
            code: int = args.handler(args)
            return code
        if args.command == "solve":
            return _solve(args)
        if args.command == "advisor":
            return _advisor_serve(args)
        return _bench_solver(args)
    except (InvalidRequestError, SimulatorError) as error:
        print(f"barq: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
