"""Run a backfill's series one after another in this process (the default)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipelines.context import AppContext
from pipelines.detect.run import SeriesReport
from pipelines.executors.reports import in_task_order
from pipelines.executors.task import SeriesProgress, SeriesTask, backfill_series


def run_here(
    context: AppContext,
    tasks: Sequence[SeriesTask],
    *,
    on_series: SeriesProgress | None = None,
    on_done: Callable[[SeriesReport], None] | None = None,
) -> list[SeriesReport]:
    """Each task's report, in order; a failing series is reported and the others go on."""
    finished = ((task, backfill_series(context, task, on_series)) for task in tasks)
    return in_task_order(tasks, finished, on_done)
