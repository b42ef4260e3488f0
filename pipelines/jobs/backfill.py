"""Replay history through the detection pipeline, series by series, in time order."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.runs import RunOutcome, finish_run, start_run
from forecaster.db.repo.series import ensure_series_ids
from forecaster.db.session import transaction
from forecaster.errors import ForecasterError
from forecaster.messages import exception_summary
from pipelines.context import AppContext
from pipelines.detect.run import (
    ProgressCallback,
    RunOptions,
    SeriesReport,
    pending_points,
    process_series,
)
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
) -> RunResult:
    """Process the selected series one after another; a failing series is reported and skipped.

    `on_series(name, pending)` returns the progress callback for that series.
    """
    pipeline = context.settings.pipeline(pipeline_name)
    with transaction(context.sessions) as session:
        series = select_series(context, session, pipeline, names)
        ensure_series_ids(session=session, names=series)  # a user table's series get rows
        run_id = start_run(
            session=session,
            pipeline=pipeline.name,
            kind=kind,
            host=socket.gethostname(),
            now=context.clock(),
        ).id
    options = RunOptions(until=end, start=start, run_id=run_id)
    reports = []
    for name in series:
        report = _backfill_series(context, pipeline, name, options, on_series)
        reports.append(report)
        if on_done is not None:
            on_done(report)
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


def _backfill_series(
    context: AppContext,
    pipeline: PipelineSettings,
    name: str,
    options: RunOptions,
    on_series: Callable[[str, int], ProgressCallback] | None,
) -> SeriesReport:
    """One series' backfill; its failure is its report's error (the others go on)."""

    def work() -> SeriesReport:
        callback = None
        if on_series is not None:
            callback = on_series(name, pending_points(context, pipeline, name, options.until))
        return process_series(context, pipeline, name, options, on_progress=callback)

    return guarded(name, work)


def guarded(name: str, work: Callable[[], SeriesReport]) -> SeriesReport:
    """`work()`'s report on series `name`; a failure becomes the report's error, so a run
    goes on with the other series."""
    try:
        return work()
    except ForecasterError as exc:  # the series' data or model: its report says so
        log.info("series %s failed: %s", name, exc)
        return SeriesReport(series=name, error=str(exc))
    except Exception as exc:  # a bug: its traceback, and the others go on
        log.exception("series %s failed", name)
        return SeriesReport(series=name, error=exception_summary(exc))
