"""Building blocks of the scenario schema.

Every section of a scenario is a :class:`Section`: a frozen pydantic model
that forbids unknown fields, rejects infinite and NaN numbers, and never
turns ``true`` into ``1`` or ``"5"`` into ``5``. Rules that involve more
than one field raise :class:`RuleError`, which names the field it is about
so that the loader can report a precise dotted path.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from engine import libm

if TYPE_CHECKING:
    import numpy.typing as npt

Int = Annotated[int, Strict()]
"""An integer; booleans, floats and strings are refused."""

Float = Annotated[float, Strict()]
"""A finite number; integers are accepted, booleans and strings are not."""

Bool = Annotated[bool, Strict()]
"""``true`` or ``false``; numbers and strings are refused."""

Str = Annotated[str, Strict()]
"""A string; numbers are refused."""

NonNegative = Annotated[float, Strict(), Field(ge=0)]
"""A finite number >= 0."""

Positive = Annotated[float, Strict(), Field(gt=0)]
"""A finite number > 0."""

Share = Annotated[float, Strict(), Field(ge=0, le=1)]
"""A number in [0, 1]."""

Count = Annotated[int, Strict(), Field(ge=1)]
"""An integer >= 1."""

HOURS_PER_DAY = 24
"""Length of the hour-of-day profiles."""


class _Missing:
    """The value shown for a required field that was not given."""

    def __repr__(self) -> str:
        return "(missing)"


MISSING = _Missing()
"""Stands for the value of a required field that was not given."""


class RuleError(ValueError):
    """A rule across fields of a section is broken.

    Parameters
    ----------
    field
        Dotted path of the offending field, relative to the section whose
        validator raised (for example ``"high"`` or ``"shifts[1].share"``).
    value
        The offending value.
    allowed
        What is allowed, in words.
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: {value!r}: {allowed}")


class Section(BaseModel):
    """Base of every scenario section: frozen, strict, closed."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )

    replaced_on_new_kind: ClassVar[bool] = False
    """Whether a scenario that extends another and gives this section a
    different ``kind`` replaces the section whole, rather than merging
    into it: the parameters of one kind mean nothing to another."""


def forbid_unused(
    section: BaseModel, used: set[str], allowed: set[str], reason: str
) -> None:
    """Refuse fields of ``allowed`` that were set but are not ``used``.

    A distribution of kind ``uniform`` given a ``median``, for example, is
    almost certainly a mistake; this says so instead of ignoring it.
    """
    for name in sorted(allowed - used):
        if name in section.model_fields_set:
            value = getattr(section, name)
            if value is not None:
                raise RuleError(name, value, f"is not used {reason}")


def require(section: BaseModel, names: list[str], reason: str) -> None:
    """Refuse a missing (None) field among ``names``."""
    for name in names:
        if getattr(section, name) is None:
            raise RuleError(name, MISSING, f"is required {reason}")


class Distribution(Section):
    """A random quantity: constant, uniform or lognormal.

    ``constant`` takes ``value``; ``uniform`` takes ``low`` and ``high``;
    ``lognormal`` takes ``median`` and ``sigma`` (the standard deviation
    of the logarithm). The unit is that of the field holding it.
    """

    replaced_on_new_kind = True

    kind: Literal["constant", "uniform", "lognormal"] = "constant"
    """Which family the quantity is drawn from."""

    value: NonNegative | None = None
    """The value of a ``constant`` quantity."""

    low: NonNegative | None = None
    """Lower bound of a ``uniform`` quantity."""

    high: NonNegative | None = None
    """Upper bound of a ``uniform`` quantity (>= ``low``)."""

    median: Positive | None = None
    """Median of a ``lognormal`` quantity."""

    sigma: NonNegative | None = None
    """Standard deviation of the logarithm of a ``lognormal`` quantity."""

    @model_validator(mode="after")
    def _parameters_match_kind(self) -> Distribution:
        needed = {
            "constant": ["value"],
            "uniform": ["low", "high"],
            "lognormal": ["median", "sigma"],
        }[self.kind]
        reason = f"by a {self.kind} distribution"
        require(self, needed, reason)
        forbid_unused(
            self,
            set(needed),
            {"value", "low", "high", "median", "sigma"},
            reason,
        )
        if self.kind == "uniform" and self._high < self._low:
            raise RuleError("high", self.high, f"must be >= low ({self.low})")
        return self

    def sample(
        self, rng: np.random.Generator, size: int
    ) -> npt.NDArray[np.float64]:
        """``size`` independent draws."""
        if self.kind == "uniform":
            return rng.uniform(self._low, self._high, size)
        if self.kind == "lognormal":
            return self._median * libm.exp(rng.normal(0.0, self._sigma, size))
        return np.full(size, self._value)

    @property
    def mean(self) -> float:
        """The expected value."""
        if self.kind == "uniform":
            return (self._low + self._high) / 2
        if self.kind == "lognormal":
            return self._median * math.exp(self._sigma**2 / 2)
        return self._value

    # Validation guarantees the parameters of the kind are set; these
    # read them as plain numbers.

    @property
    def _value(self) -> float:
        return _given(self.value)

    @property
    def _low(self) -> float:
        return _given(self.low)

    @property
    def _high(self) -> float:
        return _given(self.high)

    @property
    def _median(self) -> float:
        return _given(self.median)

    @property
    def _sigma(self) -> float:
        return _given(self.sigma)


def _given(value: float | None) -> float:
    if value is None:
        raise RuntimeError("parameter checked on validation is missing")
    return value
