"""Travel times from straight-line distances at a constant speed."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from engine.model import Location

EARTH_RADIUS_M = 6_371_008.8
"""Mean radius of the Earth in metres (IUGG)."""


def _coordinates(
    locations: Sequence[Location],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    xs = np.fromiter((loc.x for loc in locations), float, len(locations))
    ys = np.fromiter((loc.y for loc in locations), float, len(locations))
    return xs, ys


def _check_speed(speed: float) -> None:
    if not (math.isfinite(speed) and speed > 0):
        raise InvalidRequestError("travel.speed", speed, "must be > 0")


@dataclass(frozen=True, slots=True)
class Euclidean:
    """Planar distance divided by ``speed`` (distance units per second).

    With ``speed=1`` travel time equals distance, the convention of the
    Solomon and Li & Lim benchmarks.
    """

    speed: float = 1.0

    def __post_init__(self) -> None:
        _check_speed(self.speed)

    def identity(self) -> str:
        """The model and its speed, for request fingerprints."""
        return f"euclidean(speed={float(self.speed)!r})"

    def matrix(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
    ) -> npt.NDArray[np.float64]:
        ox, oy = _coordinates(origins)
        dx, dy = _coordinates(destinations)
        distance = np.hypot(
            ox[:, None] - dx[None, :], oy[:, None] - dy[None, :]
        )
        return distance / self.speed


@dataclass(frozen=True, slots=True)
class Haversine:
    """Great-circle distance over ``speed`` metres per second.

    Locations hold longitude in ``x`` and latitude in ``y``, in degrees.
    """

    speed: float = 8.0

    def __post_init__(self) -> None:
        _check_speed(self.speed)

    def identity(self) -> str:
        """The model and its speed, for request fingerprints."""
        return f"haversine(speed={float(self.speed)!r})"

    def matrix(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
    ) -> npt.NDArray[np.float64]:
        lon1, lat1 = map(np.radians, _coordinates(origins))
        lon2, lat2 = map(np.radians, _coordinates(destinations))
        dlat = lat2[None, :] - lat1[:, None]
        dlon = lon2[None, :] - lon1[:, None]
        h = (
            np.sin(dlat / 2) ** 2
            + np.cos(lat1)[:, None]
            * np.cos(lat2)[None, :]
            * np.sin(dlon / 2) ** 2
        )
        angle = np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        seconds: npt.NDArray[np.float64] = (
            2 * EARTH_RADIUS_M * angle / self.speed
        )
        return seconds
