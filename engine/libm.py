"""An elementwise ``exp`` that gives the same bits on every x86-64
machine.

numpy computes ``exp`` (and ``log`` and ``arcsin``) of float64 arrays
with code of its own on processors with AVX-512 and with the C library
elsewhere; the two differ in the last bit for some values (one ``exp``
in twenty). A seed must give the same city, the same draws and so the
same plans on every machine, CI's runners included, so what feeds a
simulation goes through the C library (:mod:`math`) here, one value at
a time: about a microsecond a value, for arrays drawn once or a few
times a run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt


def exp(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``e`` to the power of each value, as the C library computes it."""
    array = np.asarray(values, dtype=np.float64)
    return np.fromiter(
        map(math.exp, array.ravel().tolist()), np.float64, array.size
    ).reshape(array.shape)
