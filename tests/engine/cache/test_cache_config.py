"""Cache configuration: defaults, partial layers, and errors that name
the field path, the value and the rule."""

from __future__ import annotations

from typing import Any

import pytest

from engine.cache import LAYERS, CacheConfig, LayerConfig
from engine.errors import InvalidRequestError


def test_defaults_give_every_layer_a_policy() -> None:
    """The default configuration is memory, and each layer has its own
    TTL with bounds above zero."""
    config = CacheConfig()
    assert config.backend == "memory"
    ttls = {name: config.layer(name).ttl for name in LAYERS}
    assert ttls == {
        "routes": 300.0,
        "matrices": 3600.0,
        "advice": 120.0,
        "reference": 86_400.0,
    }


def test_from_dict_keeps_defaults_of_what_it_omits() -> None:
    """A mapping that names some keys of a layer keeps the defaults of
    the others, and of the layers it does not name."""
    config = CacheConfig.from_dict(
        {
            "backend": "redis",
            "retry_after": 2,
            "routes": {"ttl": 60, "max_entries": 5},
        }
    )
    assert config.backend == "redis"
    assert config.retry_after == 2
    assert config.routes == LayerConfig(60, 5, CacheConfig().routes.max_bytes)
    assert config.advice == CacheConfig().advice


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        ({"routes": {"ttl": -1}}, "cache.routes.ttl", -1),
        ({"advice": {"max_bytes": 0}}, "cache.advice.max_bytes", 0),
        (
            {"matrices": {"max_entries": 2.5}},
            "cache.matrices.max_entries",
            2.5,
        ),
        ({"reference": {"size": 3}}, "cache.reference.size", 3),
        ({"routes": 300}, "cache.routes", 300),
        ({"backend": "memcached"}, "cache.backend", "memcached"),
        ({"redis_url": "http://x"}, "cache.redis_url", "http://x"),
        ({"precision": -1}, "cache.precision", -1),
        ({"precision": 16}, "cache.precision", 16),
        ({"schema_version": "1"}, "cache.schema_version", "1"),
        ({"retry_after": float("nan")}, "cache.retry_after", None),
        ({"ttl": 5}, "cache.ttl", 5),
    ],
)
def test_errors_name_path_value_and_rule(
    data: dict[str, Any], field: str, value: Any
) -> None:
    """A bad value is refused with its full field path, the value given
    and a rule in words."""
    with pytest.raises(InvalidRequestError) as caught:
        CacheConfig.from_dict(data)
    assert caught.value.field == field
    if value is not None:
        assert caught.value.value == value
    assert caught.value.rule


def test_from_dict_needs_a_mapping() -> None:
    """The cache section itself must be a mapping."""
    with pytest.raises(InvalidRequestError) as caught:
        CacheConfig.from_dict(["memory"])  # type: ignore[arg-type]
    assert caught.value.field == "cache"


def test_layer_config_checks_itself() -> None:
    """A layer policy built directly refuses a TTL of zero."""
    with pytest.raises(InvalidRequestError) as caught:
        LayerConfig(0, 1, 1)
    assert caught.value.field == "ttl"


def test_unknown_layer_name_is_refused() -> None:
    """Asking for a layer that does not exist names the allowed ones."""
    with pytest.raises(InvalidRequestError, match="routes"):
        CacheConfig().layer("plans")
