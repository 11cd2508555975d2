"""The travel-time protocol shared by every model of movement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt

    from engine.model import Location


class TravelTimes(Protocol):
    """Answers many-to-many travel-time questions, in seconds."""

    def matrix(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
    ) -> npt.NDArray[np.float64]:
        """Travel seconds from each origin (rows) to each destination.

        The result is a fresh array of shape
        ``(len(origins), len(destinations))`` that the caller may keep.
        """
        ...

    def identity(self) -> str:
        """The kind of model and every parameter that changes its
        answers (a speed, or a digest of a network or a matrix).

        Models with equal identities give equal travel times, so a
        request fingerprint includes it.
        """
        ...
