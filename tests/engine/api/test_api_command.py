"""``barq serve`` refuses bad options before it starts anything: exit
code 2 and a message naming the option, the value and what is
allowed."""

from __future__ import annotations

import socket

import pytest

from simulator.cli import main
from tests.engine.api.conftest import free_port


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--cache", "ftp://cache"],
            "--cache = 'ftp://cache': must be memory or a Redis URL",
        ),
        (
            ["--advisor", "ftp://model"],
            "--advisor = 'ftp://model': must be modelled or an http://",
        ),
        (
            ["--storage", "mysql://db"],
            "--storage = 'mysql://db': must be sqlite:///PATH",
        ),
        (
            ["--queue-timeout", "0"],
            "--queue-timeout = 0.0: must be a finite number of seconds > 0",
        ),
        (
            ["--max-time-limit", "inf"],
            "--max-time-limit = inf: must be a finite number",
        ),
    ],
)
def test_bad_option_exits_2_naming_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad option ends with exit code 2 and its error on stderr."""
    assert main(["serve", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_unreachable_storage_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Storage that does not answer at start is an error of --storage,
    not a server that runs without it."""
    url = f"postgresql://127.0.0.1:{free_port()}/barq"
    assert main(["serve", "--storage", url]) == 2
    assert f"--storage = '{url}': must be reachable" in capsys.readouterr().err


def test_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An address another socket listens on is refused before the
    workers start."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    error = capsys.readouterr().err
    assert f"--host/--port = '127.0.0.1:{port}'" in error
    assert "must be an address free to listen on" in error
