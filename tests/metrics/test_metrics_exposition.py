"""Our text writer against prometheus_client's own: the same samples, whatever the values."""

from __future__ import annotations

import math

import pytest
from metrics_support import parse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from jobtrail.metrics.exposition import text

NASTY = ['plain', 'with "quotes"', "back\\slash", "new\nline", "ünïcødé ✓", "", "} 1\nfake 2"]


def families() -> list[object]:
    counter = CounterMetricFamily("c", "A counter \\ with\nnewline.", labels=["job_name", "queue"])
    gauge = GaugeMetricFamily("g", "A gauge.", labels=["job_name"])
    for i, name in enumerate(NASTY):
        counter.add_metric([name, "q"], i)
        gauge.add_metric([name], [0.5, 1e21, -3.0, math.inf, -math.inf, 1.7954e9, 0.0][i])
    hist = HistogramMetricFamily("h_seconds", "A histogram.", labels=["job_name"])
    hist.add_metric(["x"], [("0.01", 1.0), ("1.0", 3.0), ("+Inf", 4.0)], 2.5)
    unlabelled = GaugeMetricFamily("u", "No labels.", 2)
    return [counter, gauge, hist, unlabelled]


def test_the_writer_gives_the_same_samples_as_prometheus_client() -> None:
    class Fixed:
        def collect(self) -> list[object]:
            return families()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())  # type: ignore[arg-type]
    ours = parse(text(families()).decode())  # type: ignore[arg-type]
    theirs = parse(generate_latest(registry).decode())
    assert ours == theirs
    assert ours[("c_total", frozenset({("job_name", "} 1\nfake 2"), ("queue", "q")}))] == 6


@pytest.mark.parametrize("value", [math.nan])
def test_not_a_number_is_written_as_prometheus_spells_it(value: float) -> None:
    gauge = GaugeMetricFamily("g", "doc", value)
    assert text([gauge]).decode().splitlines()[-1] == "g NaN"
