"""A modelled LLM provider, for simulations and for the stand-in server.

:class:`ModelledBackend` reads the question out of the same chat messages
a live run sends, answers it with the heuristic's choice (or, with the
configured chances, a worse or a malformed answer), and draws how long the
answer took. It never sleeps: the latency is returned, and the caller
charges it to its clock (a simulation) or sleeps it (the stand-in
server).

Each answer draws from the injected generator in a fixed sequence (the
latency, then one uniform number for the error and one for the kind of
answer, then what a worse or malformed answer needs), so a seed and a
sequence of questions give the same answers and latencies every time.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from engine.advisor.backends import Completion
from engine.advisor.heuristic import choose
from engine.advisor.prompt import estimates_from_data, question_data
from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np

    from engine.advisor.heuristic import Estimates
    from engine.clock import Clock

LatencyKind = Literal["lognormal", "constant", "uniform"]
FaultKind = Literal["outage", "slow"]


def _real(path: str, value: Any, low: float = 0.0) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(path, value, "must be a number")
    if not (math.isfinite(value) and value >= low):
        raise InvalidRequestError(path, value, f"must be a finite >= {low}")


def _rate(path: str, value: Any) -> None:
    _real(path, value)
    if value > 1:
        raise InvalidRequestError(path, value, "must be a rate in [0, 1]")


def _fields(path: str, data: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequestError(path, data, "must be a mapping")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequestError(
            f"{path}.{unknown[0]}",
            data[unknown[0]],
            f"is not a field; allowed: {', '.join(sorted(allowed))}",
        )
    return data


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """How long the modelled provider takes to answer.

    ``lognormal`` (the default): median ``median_s`` and shape ``sigma``,
    the log of the latency being normal with mean ``log(median_s)`` and
    standard deviation ``sigma``. ``constant``: always ``median_s``.
    ``uniform``: between ``low_s`` and ``high_s``.
    """

    kind: LatencyKind = "lognormal"
    median_s: float = 0.8
    sigma: float = 0.5
    low_s: float = 0.0
    high_s: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("lognormal", "constant", "uniform"):
            raise InvalidRequestError(
                "latency.kind",
                self.kind,
                "must be lognormal, constant or uniform",
            )
        _real("latency.median_s", self.median_s)
        _real("latency.sigma", self.sigma)
        _real("latency.low_s", self.low_s)
        _real("latency.high_s", self.high_s)
        if self.kind == "lognormal" and self.median_s <= 0:
            raise InvalidRequestError(
                "latency.median_s", self.median_s, "must be > 0"
            )
        if self.kind == "uniform" and self.high_s < self.low_s:
            raise InvalidRequestError(
                "latency.high_s",
                self.high_s,
                f"must be >= low_s ({self.low_s})",
            )

    @classmethod
    def from_dict(cls, data: Any, path: str = "latency") -> LatencyModel:
        """Build from a mapping with the field names as keys."""
        fields = _fields(path, data, set(cls.__dataclass_fields__))
        try:
            return cls(**fields)
        except InvalidRequestError as error:
            raise _under(path, error) from None

    def draw(self, rng: np.random.Generator) -> float:
        """One latency in seconds."""
        if self.kind == "constant":
            return float(self.median_s)
        if self.kind == "uniform":
            return float(rng.uniform(self.low_s, self.high_s))
        return float(rng.lognormal(math.log(self.median_s), self.sigma))


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """A time window, on the backend's clock, in which the provider is
    down (``outage``: every call fails at once) or slow (``slow``: every
    latency is multiplied by ``factor``). The window includes ``start``
    and excludes ``end``."""

    start: float
    end: float
    kind: FaultKind
    factor: float = 1.0

    def __post_init__(self) -> None:
        _real("window.start", self.start, low=-math.inf)
        if not (
            isinstance(self.end, int | float)
            and not isinstance(self.end, bool)
            and self.end > self.start
        ):
            raise InvalidRequestError(
                "window.end", self.end, f"must be > start ({self.start})"
            )
        if self.kind not in ("outage", "slow"):
            raise InvalidRequestError(
                "window.kind", self.kind, "must be outage or slow"
            )
        _real("window.factor", self.factor)
        if self.factor <= 0:
            raise InvalidRequestError(
                "window.factor", self.factor, "must be > 0"
            )

    @classmethod
    def from_dict(cls, data: Any, path: str = "window") -> FaultWindow:
        """Build from a mapping with the field names as keys."""
        fields = _fields(path, data, set(cls.__dataclass_fields__))
        try:
            return cls(**fields)
        except TypeError as error:
            raise InvalidRequestError(path, data, str(error)) from None
        except InvalidRequestError as error:
            raise _under(path, error) from None

    def covers(self, now: float) -> bool:
        """Whether ``now`` falls in the window."""
        return self.start <= now < self.end


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The modelled provider: latency, failures and quality of answers.

    Each call fails with probability ``error_rate``; an answer is worse
    than the heuristic's (valid, but another feasible driver, or a
    rejected plan) with probability ``worse_rate`` and malformed with
    probability ``malformed_rate``.
    """

    latency: LatencyModel = field(default_factory=LatencyModel)
    error_rate: float = 0.0
    worse_rate: float = 0.0
    malformed_rate: float = 0.0
    windows: tuple[FaultWindow, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))
        _rate("error_rate", self.error_rate)
        _rate("worse_rate", self.worse_rate)
        _rate("malformed_rate", self.malformed_rate)
        if self.worse_rate + self.malformed_rate > 1:
            raise InvalidRequestError(
                "malformed_rate",
                self.malformed_rate,
                f"must be <= 1 - worse_rate ({1 - self.worse_rate:g})",
            )

    @classmethod
    def from_dict(cls, data: Any, path: str = "model") -> ModelConfig:
        """Build from a mapping: the rates, ``latency`` as a mapping, and
        ``windows`` as a list of mappings."""
        fields = dict(_fields(path, data, set(cls.__dataclass_fields__)))
        if "latency" in fields:
            fields["latency"] = LatencyModel.from_dict(
                fields["latency"], f"{path}.latency"
            )
        windows = fields.get("windows", [])
        if not isinstance(windows, list):
            raise InvalidRequestError(
                f"{path}.windows", windows, "must be a list"
            )
        fields["windows"] = tuple(
            FaultWindow.from_dict(item, f"{path}.windows[{k}]")
            for k, item in enumerate(windows)
        )
        try:
            return cls(**fields)
        except InvalidRequestError as error:
            raise _under(path, error) from None


def _under(path: str, error: InvalidRequestError) -> InvalidRequestError:
    """``error`` with its field placed under ``path``."""
    name = error.field.split(".", 1)[-1]
    return InvalidRequestError(f"{path}.{name}", error.value, error.rule)


@dataclass(frozen=True, slots=True)
class ModelledAnswer:
    """One modelled answer before any timeout: its text (``None`` for a
    fault), its latency in seconds, and the fault, if any."""

    text: str | None
    latency_s: float
    fault: Literal["outage", "error"] | None = None


class ModelledBackend:
    """A backend that models the provider instead of calling one.

    Parameters
    ----------
    config
        Latency, failure and answer-quality model.
    clock
        Tells which fault windows are open.
    rng
        The random stream of every draw.

    An answer later than the timeout is reported as timed out, with the
    timeout as its latency. Calls are serialised by a lock, so one backend
    may serve several threads (as in the stand-in server); ``config`` may
    be replaced between calls to change the provider's behaviour.
    """

    def __init__(
        self, config: ModelConfig, clock: Clock, rng: np.random.Generator
    ) -> None:
        self.config = config
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()

    def complete(
        self, messages: list[dict[str, str]], timeout: float
    ) -> Completion:
        """The modelled answer to ``messages``, cut at ``timeout``."""
        try:
            answer = self.answer(messages)
        except InvalidRequestError as error:
            return Completion(None, 0.0, error=str(error))
        if answer.latency_s > timeout:
            return Completion(None, timeout, timed_out=True)
        if answer.fault is not None:
            return Completion(
                None, answer.latency_s, error=f"modelled {answer.fault}"
            )
        return Completion(answer.text, answer.latency_s)

    def answer(self, messages: list[dict[str, str]]) -> ModelledAnswer:
        """The modelled answer to ``messages`` and its full latency.

        Inside an outage window the answer is an immediate ``outage``
        fault. Raises :class:`~engine.errors.InvalidRequestError` when the
        messages hold no question the advisor asks.
        """
        data = question_data(messages)
        with self._lock:
            config = self.config
            now = self._clock.now()
            open_windows = [w for w in config.windows if w.covers(now)]
            if any(w.kind == "outage" for w in open_windows):
                return ModelledAnswer(None, 0.0, "outage")

            latency = config.latency.draw(self._rng)
            for window in open_windows:
                latency *= window.factor
            failure, quality = self._rng.random(2)
            if failure < config.error_rate:
                return ModelledAnswer(None, latency, "error")

            if quality < config.malformed_rate:
                kind = "malformed"
            elif quality < config.malformed_rate + config.worse_rate:
                kind = "worse"
            else:
                kind = "heuristic"
            if data["task"] == "assign":
                text = self._assign(estimates_from_data(data), kind)
            else:
                text = self._review(kind)
            return ModelledAnswer(text, latency)

    def _assign(self, estimates: Estimates, kind: str) -> str:
        best = choose(estimates)
        if kind == "worse":
            best = _worse(estimates, best, self._rng)
        items = [
            {"order": order, "driver": driver}
            for order, driver in best.items()
        ]
        if kind != "malformed":
            return json.dumps({"assignments": items})

        flaw = int(self._rng.integers(4))
        if flaw == 0:
            return f"Driver {items[0]['driver']} should take it."
        if flaw == 1:
            return json.dumps({"assignments": items[1:]})
        if flaw == 2:
            items[0] = {"order": items[0]["order"], "driver": "nobody?"}
            return json.dumps({"assignments": items})
        return json.dumps({"assignment": items})

    def _review(self, kind: str) -> str:
        if kind == "heuristic":
            return json.dumps(
                {"verdict": "accept", "reason": "the plan is feasible"}
            )
        if kind == "worse":
            return json.dumps(
                {"verdict": "reject", "reason": "routes look too long"}
            )
        flaw = int(self._rng.integers(3))
        if flaw == 0:
            return "I would accept this plan."
        if flaw == 1:
            return json.dumps({"verdict": "maybe", "reason": "unsure"})
        return json.dumps({"verdict": "accept"})


def _worse(
    estimates: Estimates,
    best: Mapping[str, str | None],
    rng: np.random.Generator,
) -> dict[str, str | None]:
    """A valid answer that is no better than ``best``: each order goes to
    a driver drawn from the feasible ones with room other than the
    heuristic's choice, or to nobody when there is no such driver."""
    room = list(estimates.free_capacity)
    answer: dict[str, str | None] = {}
    for o, order_id in enumerate(estimates.order_ids):
        quantity = estimates.quantities[o]
        able = [
            c
            for c, driver in enumerate(estimates.driver_ids)
            if room[c] >= quantity
            and estimates.feasible(o, c)
            and driver != best[order_id]
        ]
        if not able:
            answer[order_id] = None
            continue
        c = able[int(rng.integers(len(able)))]
        room[c] -= quantity
        answer[order_id] = estimates.driver_ids[c]
    return answer
