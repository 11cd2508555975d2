"""Configuration of the caches: a backend, and a policy per layer.

As plain data (from a scenario or a service's YAML file)::

    cache:
      backend: redis
      redis_url: redis://127.0.0.1:6379/0
      schema_version: 1
      retry_after: 5.0
      precision: 5
      routes: {ttl: 300, max_entries: 10000, max_bytes: 67108864}

Every key is optional; a layer given in part keeps the defaults of the
rest.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from engine.cache.memory import check_bound, check_ttl
from engine.errors import InvalidRequestError

MIB = 1024 * 1024

LAYERS = ("routes", "matrices", "advice", "reference")
"""The names of the layers, in the order :meth:`Caches.layers` lists them."""

REDIS_SCHEMES = ("redis", "rediss", "unix")

C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class LayerConfig:
    """The policy of one layer: how long a value lives, and how much a
    memory backend holds.

    With Redis, the bounds apply to the memory fallback; Redis itself
    is bounded by its own ``maxmemory``.
    """

    ttl: float
    """Seconds a stored value lives."""

    max_entries: int
    """Most entries a memory backend holds."""

    max_bytes: int
    """Most bytes of encoded values a memory backend holds."""

    def __post_init__(self) -> None:
        check_ttl(self.ttl)
        check_bound(self.max_entries, "max_entries")
        check_bound(self.max_bytes, "max_bytes")

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        path: str = "layer",
        default: LayerConfig | None = None,
    ) -> LayerConfig:
        """A layer's policy from a mapping; keys it lacks come from
        ``default``. Errors name the field under ``path``."""
        fields = _fields(cls, data, path)
        if default is not None:
            fields = dataclasses.asdict(default) | fields
        return _build(cls, fields, path)


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """Which backend the caches use, and each layer's policy.

    ``precision`` is the number of decimals kept of each coordinate in
    a request fingerprint: 5 decimals of a degree is about a metre.
    ``schema_version`` is part of every Redis key; raise it when the
    layout of cached values changes, and old entries are never read.
    """

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    schema_version: int = 1
    retry_after: float = 5.0
    precision: int = 5
    routes: LayerConfig = LayerConfig(300.0, 10_000, 64 * MIB)
    matrices: LayerConfig = LayerConfig(3600.0, 1_000, 256 * MIB)
    advice: LayerConfig = LayerConfig(120.0, 10_000, 16 * MIB)
    reference: LayerConfig = LayerConfig(86_400.0, 100_000, 64 * MIB)

    def __post_init__(self) -> None:
        if self.backend not in ("memory", "redis"):
            raise InvalidRequestError(
                "backend", self.backend, "must be memory or redis"
            )
        if (
            not isinstance(self.redis_url, str)
            or urlsplit(self.redis_url).scheme not in REDIS_SCHEMES
        ):
            raise InvalidRequestError(
                "redis_url",
                self.redis_url,
                "must be a URL of scheme redis, rediss or unix",
            )
        _integer_at_least("schema_version", self.schema_version, 0)
        if (
            isinstance(self.retry_after, bool)
            or not isinstance(self.retry_after, int | float)
            or not (math.isfinite(self.retry_after) and self.retry_after >= 0)
        ):
            raise InvalidRequestError(
                "retry_after",
                self.retry_after,
                "must be a finite number of seconds >= 0",
            )
        _integer_at_least("precision", self.precision, 0)
        if self.precision > 15:
            raise InvalidRequestError(
                "precision", self.precision, "must be <= 15 decimals"
            )
        for name in LAYERS:
            if not isinstance(getattr(self, name), LayerConfig):
                raise InvalidRequestError(
                    name, getattr(self, name), "must be a LayerConfig"
                )

    def layer(self, name: str) -> LayerConfig:
        """The policy of the layer called ``name``."""
        if name not in LAYERS:
            raise InvalidRequestError(
                "layer", name, f"must be one of {', '.join(LAYERS)}"
            )
        config: LayerConfig = getattr(self, name)
        return config

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], path: str = "cache"
    ) -> CacheConfig:
        """The configuration in ``data``; errors name the field path
        under ``path`` (``cache.routes.ttl``), the value and the rule."""
        fields = _fields(cls, data, path)
        defaults = cls()
        for name in LAYERS:
            if name in fields:
                layer = fields[name]
                if not isinstance(layer, Mapping):
                    raise InvalidRequestError(
                        f"{path}.{name}", layer, "must be a mapping"
                    )
                fields[name] = LayerConfig.from_dict(
                    layer, f"{path}.{name}", defaults.layer(name)
                )
        return _build(cls, fields, path)


def _integer_at_least(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidRequestError(
            name, value, f"must be an integer >= {least}"
        )


def _fields(cls: type[Any], data: Any, path: str) -> dict[str, Any]:
    """The entries of mapping ``data``, all of them fields of ``cls``."""
    if not isinstance(data, Mapping):
        raise InvalidRequestError(path, data, "must be a mapping")
    names = [field.name for field in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise InvalidRequestError(
                f"{path}.{key}",
                data[key],
                f"is not a field; allowed: {', '.join(names)}",
            )
    return dict(data)


def _build(cls: type[C], fields: dict[str, Any], path: str) -> C:
    """``cls(**fields)``, with errors named under ``path``."""
    try:
        return cls(**fields)
    except InvalidRequestError as error:
        raise InvalidRequestError(
            f"{path}.{error.field}", error.value, error.rule
        ) from None
    except TypeError as error:
        raise InvalidRequestError(path, dict(fields), str(error)) from None
