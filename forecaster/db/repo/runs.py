"""The `pipeline_runs` table: one row per job execution."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from forecaster.db.tables import (
    PipelineRun,
)
from forecaster.db.types import utcnow


def start_run(
    *,
    session: Session,
    pipeline: str,
    kind: str,
    host: str | None,
    cycle_at: datetime | None = None,
    replica: str | None = None,
) -> PipelineRun:
    """A pipeline_runs row in status 'running'."""
    run = PipelineRun(
        pipeline=pipeline, kind=kind, status="running", host=host, cycle_at=cycle_at,
        replica=replica,
    )  # fmt: skip
    session.add(run)
    session.flush()
    return run


def finish_run(
    *,
    session: Session,
    run_id: int,
    status: str,
    series_count: int,
    series_failed: int,
    points_read: int,
    anomalies_written: int,
    error: str | None,
) -> None:
    """Close a pipeline run with its counts."""
    run = session.get(PipelineRun, run_id)
    if run is None:
        return
    run.finished_at = utcnow()
    run.status = status
    run.series_count = series_count
    run.series_failed = series_failed
    run.points_read = points_read
    run.anomalies_written = anomalies_written
    run.error = error
