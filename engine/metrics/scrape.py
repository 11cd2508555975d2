"""Metrics read back from a scrape: the text a ``/metrics`` endpoint
serves, as one number per series.

``barq load`` scrapes the service under test before and after a run and
takes the difference of its counters, so that a load run's cache and
advisor figures come from the service itself.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, tuple[tuple[str, str], ...]]
"""A sample's name and its labels, sorted by label name."""


def read_exposition(text: str) -> dict[Series, float]:
    """Every sample of a Prometheus text exposition, by series.

    Raises
    ------
    ValueError
        If ``text`` is not in the Prometheus text format.
    """
    values: dict[Series, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            values[sample.name, labels] = float(sample.value)
    return values
