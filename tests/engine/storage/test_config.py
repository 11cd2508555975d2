"""Tests of StorageConfig: defaults, backends from URLs, and bad values
named by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InvalidRequestError
from engine.storage import StorageConfig


def test_defaults_are_a_sqlite_file_and_valid() -> None:
    """The default configuration is valid and names a SQLite file."""
    config = StorageConfig()

    assert config.backend == "sqlite"
    assert config.sqlite_path == Path("barq.sqlite")
    assert (config.pool_min, config.pool_max) == (1, 4)
    assert (config.batch_size, config.buffer_limit) == (200, 10_000)


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("sqlite:///runs/a.sqlite", "sqlite"),
        ("runs/a.sqlite", "sqlite"),
        ("/tmp/a b.sqlite", "sqlite"),
        ("postgresql://u@db:5432/barq", "postgresql"),
        ("postgres://db/barq?options=-csearch_path%3Dx", "postgresql"),
    ],
)
def test_backend_follows_the_url(url: str, backend: str) -> None:
    """sqlite:/// URLs and plain paths are SQLite; postgresql:// and
    postgres:// URLs are PostgreSQL."""
    assert StorageConfig(url=url).backend == backend


def test_sqlite_path_of_a_url_and_of_a_path() -> None:
    """The file of sqlite:///PATH is PATH, absolute or relative."""
    assert StorageConfig(url="sqlite:///x/y.db").sqlite_path == Path("x/y.db")
    assert StorageConfig(url="sqlite:////abs/y.db").sqlite_path == Path(
        "/abs/y.db"
    )


def test_sqlite_path_of_a_server_url_is_an_error() -> None:
    """A PostgreSQL URL has no SQLite file."""
    with pytest.raises(InvalidRequestError, match="url"):
        StorageConfig(url="postgresql://db/barq").sqlite_path  # noqa: B018


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", ""),
        ("url", "mysql://db/barq"),
        ("url", "sqlite:///"),
        ("url", 5),
        ("pool_min", -1),
        ("pool_min", 1.5),
        ("pool_max", 0),
        ("statement_timeout_s", 0),
        ("statement_timeout_s", float("inf")),
        ("slow_query_s", -0.1),
        ("slow_query_s", "fast"),
        ("batch_size", 0),
        ("batch_size", True),
        ("batch_age_s", 0.0),
        ("buffer_limit", 10),
        ("retry_base_s", 0),
        ("retry_max_s", float("nan")),
        ("retry_max_s", 0.01),
    ],
)
def test_bad_value_names_the_field(field: str, value: object) -> None:
    """Each bad value raises InvalidRequestError naming its field, the
    value and the rule."""
    with pytest.raises(InvalidRequestError) as caught:
        StorageConfig(**{field: value})  # type: ignore[arg-type]

    assert caught.value.field == field
    assert caught.value.value is value or caught.value.value == value
    assert caught.value.rule


def test_pool_max_below_pool_min_names_the_rule() -> None:
    """pool_max must hold at least pool_min connections."""
    with pytest.raises(InvalidRequestError, match=r"pool_max.*>= 3"):
        StorageConfig(pool_min=3, pool_max=2)


def test_buffer_must_hold_a_batch() -> None:
    """buffer_limit below batch_size is refused, naming batch_size's
    value."""
    with pytest.raises(InvalidRequestError, match=r"buffer_limit.*>= 500"):
        StorageConfig(batch_size=500, buffer_limit=499)
