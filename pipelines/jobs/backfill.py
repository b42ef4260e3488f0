"""Replay history through the detection pipeline: every series in time order, the series one
after another or side by side on an executor."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from forecaster.config.executor import ExecutorSettings
from forecaster.db.repo.runs import RunOutcome, finish_run, start_run
from forecaster.db.repo.series import ensure_series_ids
from forecaster.db.session import transaction
from pipelines.context import AppContext
from pipelines.detect.run import ProgressCallback, RunOptions, SeriesReport
from pipelines.executors.choose import run_tasks
from pipelines.executors.task import SeriesTask, run_label
from pipelines.selection import select_series

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """The reports of one backfill run and its pipeline_runs id."""

    run_id: int
    pipeline: str
    reports: list[SeriesReport]

    @property
    def failed(self) -> list[SeriesReport]:
        return [r for r in self.reports if not r.ok]


def run_pipeline(
    context: AppContext,
    pipeline_name: str | None,
    *,
    kind: str,
    names: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    on_series: Callable[[str, int], ProgressCallback] | None = None,
    on_done: Callable[[SeriesReport], None] | None = None,
    executor: ExecutorSettings | None = None,
    notify: bool = False,
) -> RunResult:
    """Process the selected series on the executor (default: the settings' `executor:`, one
    after another in this process); a failing series is reported and the others go on.

    `on_series(name, pending)` returns the progress callback for that series. Each series is
    leased while it runs, so a daemon or another backfill never processes it at the same time.
    With `notify`, the events it opens queue notifications (in the transactions of their rows).
    """
    pipeline = context.settings.pipeline(pipeline_name)
    with transaction(context.sessions) as session:
        series = select_series(context, session, pipeline, names)
        ids = ensure_series_ids(session=session, names=series)  # a user table's get rows
        run_id = start_run(
            session=session,
            pipeline=pipeline.name,
            kind=kind,
            host=socket.gethostname(),
            now=context.clock(),
        ).id
    options = RunOptions(until=end, start=start, run_id=run_id)
    label = run_label(run_id)
    tasks = [
        SeriesTask(pipeline.name, name, ids[name], options, label, notify=notify) for name in series
    ]
    reports = run_tasks(
        context,
        tasks,
        executor or context.settings.executor,
        on_series=on_series,
        on_done=on_done,
    )
    return close_run(context, pipeline.name, run_id, reports)


def close_run(
    context: AppContext, pipeline: str, run_id: int, reports: list[SeriesReport]
) -> RunResult:
    """Record a run's counts, errors and notes on its pipeline_runs row, and its result."""
    outcome = RunOutcome(
        series_count=len(reports),
        points_read=sum(r.points_read for r in reports),
        anomalies_written=sum(r.anomalies for r in reports),
        errors={r.series: r.error for r in reports if r.error is not None},
        notes={r.series: r.notes[0] for r in reports if r.notes},
    )
    with transaction(context.sessions) as session:
        finish_run(session=session, run_id=run_id, outcome=outcome, now=context.clock())
    return RunResult(run_id=run_id, pipeline=pipeline, reports=reports)
