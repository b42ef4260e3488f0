"""Replay history through the detection pipeline, series by series, in time order."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from forecaster.db.repo.runs import finish_run, start_run
from forecaster.db.session import transaction
from forecaster.errors import ForecasterError
from pipelines.context import AppContext
from pipelines.detect.run import ProgressCallback, SeriesReport, pending_points, process_series
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
        run_id = start_run(
            session=session, pipeline=pipeline.name, kind=kind, host=socket.gethostname()
        ).id
    reports = []
    for name in series:
        try:
            callback = None
            if on_series is not None:
                callback = on_series(name, pending_points(context, pipeline, name, end))
            report = process_series(
                context, pipeline, name, until=end, start=start, run_id=run_id,
                on_progress=callback,
            )  # fmt: skip
        except ForecasterError as exc:
            report = SeriesReport(series=name, error=str(exc))
        except Exception as exc:  # one bad series must not stop the others
            log.exception("series %s failed", name)
            report = SeriesReport(series=name, error=f"{type(exc).__name__}: {exc}")
        reports.append(report)
        if on_done is not None:
            on_done(report)
    failed = [r for r in reports if not r.ok]
    with transaction(context.sessions) as session:
        finish_run(
            session=session,
            run_id=run_id,
            status="ok" if not failed else ("failed" if len(failed) == len(reports) else "partial"),
            series_count=len(reports),
            series_failed=len(failed),
            points_read=sum(r.points_read for r in reports),
            anomalies_written=sum(r.anomalies for r in reports),
            error="; ".join(f"{r.series}: {r.error}" for r in failed)[:2000] or None,
        )
    return RunResult(run_id=run_id, pipeline=pipeline.name, reports=reports)
