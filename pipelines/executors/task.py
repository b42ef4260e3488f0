"""One series of a backfill as a plain importable function: what every executor runs.

The task holds the series' lease (pipelines/jobs/series_lease.py) while it processes the
series chunk by chunk; each chunk commits its rows with its watermark, so a task that dies
loses at most the chunk in hand and a rerun (or Dask's retry) resumes there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from forecaster.config.settings import Settings
from pipelines.context import AppContext, open_context
from pipelines.detect.run import (
    ProgressCallback,
    RunOptions,
    SeriesReport,
    pending_points,
    process_series,
)
from pipelines.executors.threads import default_threads
from pipelines.jobs.guard import guarded
from pipelines.jobs.series_lease import LeaseTerms, series_lease
from pipelines.notify.wiring import backfill_io

SeriesProgress = Callable[[str, int], ProgressCallback]  # (series, pending points) -> advance


@dataclass(frozen=True)
class SeriesTask:
    """One series of one run: what a worker needs besides the settings (all picklable)."""

    pipeline: str
    series: str
    series_id: int
    options: RunOptions
    run: str  # the run as its leases name it (see `run_label`)
    notify: bool = False  # queue notifications of the events it opens (`backfill --notify`)


def run_label(run_id: int) -> str:
    """How a run's tasks sign their leases (each adds its host and pid): a task of the same
    run, rerun after its worker died, takes its series back at once."""
    return f"backfill run {run_id}"


def backfill_series(
    context: AppContext, task: SeriesTask, on_series: SeriesProgress | None = None
) -> SeriesReport:
    """The task's series, leased, processed to its end; a failure is the report's error."""
    return guarded(task.series, lambda: _leased_backfill(context, task, on_series))


def _leased_backfill(
    context: AppContext, task: SeriesTask, on_series: SeriesProgress | None
) -> SeriesReport:
    pipeline = context.settings.pipeline(task.pipeline)
    terms = LeaseTerms(
        run=task.run,
        seconds=context.settings.daemon.lease_seconds,
        wait_seconds=context.settings.executor.lease_wait_seconds,
    )

    with series_lease(context, pipeline.name, task.series, task.series_id, terms) as renew:
        advance = None
        if on_series is not None:
            pending = pending_points(context, pipeline, task.series, task.options.until)
            advance = on_series(task.series, pending)

        def progress(points: int, last: datetime | None) -> None:
            renew()
            if advance is not None:
                advance(points, last)

        io = backfill_io(context, pipeline, notify=task.notify)
        return process_series(
            context, pipeline, task.series, task.options, io=io, on_progress=progress
        )


def run_in_worker(
    settings: Settings,
    task: SeriesTask,
    on_series: SeriesProgress | None = None,
    threads: int | None = None,
) -> SeriesReport:
    """`backfill_series` in a process of its own (a local worker or a Dask worker): its own
    database connections and model runtime, closed afterwards. The parent checked the schema.
    With `threads`, the compute pools the worker's environment leaves unset get that many
    threads (a local worker's are pinned when it starts)."""

    def work() -> SeriesReport:
        if threads is not None:
            default_threads(threads)
        context = open_context(settings, require_schema=False)
        try:
            return _leased_backfill(context, task, on_series)
        finally:
            context.close()

    return guarded(task.series, work)
