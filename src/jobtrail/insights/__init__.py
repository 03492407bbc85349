"""What the dashboard shows, computed over the Store protocol: plain frozen dataclasses with
JSON-ready fields (Unix seconds for instants, seconds for durations), statistics from the roll-ups.

    from jobtrail import insights
    page = insights.overview(store, since="6h")
"""

from __future__ import annotations

from jobtrail.insights.batches import BatchTimeline, GanttRow, batch_timeline
from jobtrail.insights.fleet import QueueRow, WorkerRow, queues, workers
from jobtrail.insights.names import Heatmap, NameDetail, name_detail
from jobtrail.insights.overview import NameRow, Overview, Thresholds, overview
from jobtrail.insights.resources import ResourceDetail, resource_detail
from jobtrail.insights.runs import BusyContext, RunComparison, busy_context, compare_run
from jobtrail.insights.series import Series

__all__ = [
    "BatchTimeline",
    "BusyContext",
    "GanttRow",
    "Heatmap",
    "NameDetail",
    "NameRow",
    "Overview",
    "QueueRow",
    "ResourceDetail",
    "RunComparison",
    "Series",
    "Thresholds",
    "WorkerRow",
    "batch_timeline",
    "busy_context",
    "compare_run",
    "name_detail",
    "overview",
    "queues",
    "resource_detail",
    "workers",
]
