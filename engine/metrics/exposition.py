"""Getting metrics out: a live endpoint, a Pushgateway, and OpenMetrics
text with timestamps for backfilling Prometheus.

:class:`Timeline` keeps snapshots of a registry taken at chosen
instants and writes them as one OpenMetrics document, grouped as the
format requires (every family once; within it each series once, its
points in time order). ``promtool tsdb create-blocks-from openmetrics``
turns that document into TSDB blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    generate_latest,
    push_to_gateway,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    import threading
    from collections.abc import Iterable, Mapping
    from pathlib import Path
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import CollectorRegistry

SKIPPED_SUFFIXES = ("_created",)
"""Samples left out of a timeline: a ``_created`` timestamp per series
says nothing that the first point does not, and confuses backfills."""


def exposed_name(family: Metric) -> str:
    """The name a family's main samples carry, as docs/metrics.md lists
    it: counters with ``_total``, every other type as it is named."""
    if family.type == "counter":
        return f"{family.name}_total"
    return family.name


class Labelled(Collector):
    """Every family of ``source`` with ``labels`` added to each sample.

    Run-wide labels (``run``, ``scenario``) belong to the exposition,
    not to each collector; this is how they get there.
    """

    def __init__(
        self, source: CollectorRegistry, labels: Mapping[str, str]
    ) -> None:
        self._source = source
        self._labels = dict(labels)

    def collect(self) -> Iterable[Metric]:
        """The source's families, relabelled."""
        for family in self._source.collect():
            copy = Metric(
                family.name, family.documentation, family.type, family.unit
            )
            for sample in family.samples:
                copy.add_sample(
                    sample.name,
                    {**self._labels, **sample.labels},
                    sample.value,
                    sample.timestamp,
                    sample.exemplar,
                )
            yield copy


@dataclass
class _Family:
    kind: str
    unit: str
    help: str
    series: dict[tuple[tuple[str, str], ...], list[str]] = field(
        default_factory=dict
    )


class Timeline:
    """Snapshots of collectors at instants, as OpenMetrics text.

    Each :meth:`snapshot` reads every sample, adds ``labels`` (a
    sample's own labels win where names clash, as with
    :class:`Labelled`) and stamps it with ``at``, in Unix seconds.
    Snapshots must be taken in time order.
    """

    def __init__(self, labels: Mapping[str, str] | None = None) -> None:
        self._labels = dict(labels or {})
        self._families: dict[str, _Family] = {}
        self._series: dict[
            tuple[str, tuple[tuple[str, str], ...]],
            tuple[tuple[tuple[str, str], ...], str],
        ] = {}
        self._last = -math.inf
        self.snapshots = 0
        """How many snapshots were taken."""

    def snapshot(self, source: Collector, at: float) -> None:
        """Record every sample of ``source`` at ``at``."""
        if not at > self._last:
            raise ValueError(
                f"snapshot at {at} is not after the last one, {self._last}"
            )
        self._last = at
        self.snapshots += 1
        stamp = f"{at:.3f}"
        for family in source.collect():
            entry = self._families.get(family.name)
            if entry is None:
                entry = self._families[family.name] = _Family(
                    family.type, family.unit, family.documentation
                )
            for sample in family.samples:
                if sample.name.endswith(SKIPPED_SUFFIXES):
                    continue
                named = (sample.name, tuple(sample.labels.items()))
                known = self._series.get(named)
                if known is None:
                    known = self._series[named] = self._name(
                        sample.name, sample.labels
                    )
                key, prefix = known
                entry.series.setdefault(key, []).append(
                    f"{prefix} {_number(sample.value)} {stamp}"
                )

    def _name(
        self, name: str, own: Mapping[str, str]
    ) -> tuple[tuple[tuple[str, str], ...], str]:
        """A series' key within its family (its labels but the bucket
        bound, sorted) and the text before its value."""
        labels = {**self._labels, **own}
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        return key, f"{name}{_labels(labels)}"

    def text(self) -> str:
        """The OpenMetrics document, ``# EOF`` included."""
        lines: list[str] = []
        for name, family in self._families.items():
            if not family.series:
                continue
            lines.append(f"# TYPE {name} {family.kind}")
            if family.unit:
                lines.append(f"# UNIT {name} {family.unit}")
            lines.append(f"# HELP {name} {_escape(family.help)}")
            for points in family.series.values():
                lines.extend(points)
        lines.append("# EOF")
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> None:
        """Write :meth:`text` to ``path``."""
        path.write_text(self.text(), encoding="utf-8")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    pairs = ",".join(
        f'{name}="{_escape(value)}"' for name, value in labels.items()
    )
    return "{" + pairs + "}"


def _escape(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def exposition_text(registry: Collector) -> tuple[bytes, str]:
    """Every sample of ``registry`` in the Prometheus text format, and
    the content type to serve it with (an application's ``/metrics``)."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


class MetricsServer:
    """``/metrics`` of a registry over HTTP, in a daemon thread."""

    def __init__(
        self, registry: Collector, port: int, host: str = "127.0.0.1"
    ) -> None:
        server: WSGIServer
        thread: threading.Thread
        server, thread = start_http_server(port, host, registry)
        self._server = server
        self._thread = thread
        self.host = host
        self.port: int = server.server_port
        """The port served, the one chosen when 0 was asked for."""

    @property
    def url(self) -> str:
        """Where the metrics are."""
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def push(
    url: str,
    registry: Collector,
    job: str,
    grouping: Mapping[str, str],
    timeout: float = 10.0,
) -> None:
    """Replace the group ``job`` + ``grouping`` of the Pushgateway at
    ``url`` with the samples of ``registry``.

    Raises :class:`OSError` (``urllib.error.URLError`` among them) when
    the gateway cannot be reached or refuses the push.
    """
    push_to_gateway(
        url,
        job=job,
        registry=registry,
        grouping_key=dict(grouping),
        timeout=timeout,
    )
