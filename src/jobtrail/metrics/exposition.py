"""Prometheus' text format (0.0.4) for the collector's families, written directly.

`prometheus_client.generate_latest` validates and escapes every label name of every sample, which
is a third of a scrape's CPU with ~2,700 samples; our names are fixed and valid, so only values
need escaping. The families stay prometheus_client objects (the collector works in any registry);
tests parse this output with prometheus_client's parser and check it with promtool.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client.core import Metric

__all__ = ["text"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def text(families: Iterable[Metric]) -> bytes:
    """The exposition of `families`: HELP and TYPE lines, then one line per sample."""
    out: list[str] = []
    for family in families:
        name = family.name + "_total" if family.type == "counter" else family.name
        doc = family.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {family.type}\n")
        for sample in family.samples:
            if sample.labels:
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sample.labels.items())
                out.append(f"{sample.name}{{{labels}}} {_number(sample.value)}\n")
            else:
                out.append(f"{sample.name} {_number(sample.value)}\n")
    return "".join(out).encode()
