"""The `pipeline_runs` table: one row per job execution, with each failed series' error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from forecaster.db.tables import PipelineRun

RunStatus = Literal["running", "ok", "partial", "failed", "stopped"]
ERROR_TEXT_CHARS = 2000  # the `error` column: a readable summary for SQL users
SERIES_ERROR_CHARS = 500  # each message kept in `series_errors`


@dataclass
class RunOutcome:
    """What a run did, as its row records it: counts and the error of every failed series."""

    series_count: int = 0
    points_read: int = 0
    anomalies_written: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # series name -> message
    stopped: bool = False
    notes: dict[str, str] = field(default_factory=dict)  # series name -> why it is not scored

    @property
    def status(self) -> RunStatus:
        """ok; partial when some series failed, failed when all did; stopped by a signal."""
        if self.errors:
            return "failed" if len(self.errors) >= self.series_count else "partial"
        return "stopped" if self.stopped else "ok"


def start_run(
    *,
    session: Session,
    pipeline: str,
    kind: str,
    host: str | None,
    now: datetime,
    cycle_at: datetime | None = None,
    replica: str | None = None,
) -> PipelineRun:
    """A pipeline_runs row in status 'running'."""
    run = PipelineRun(
        pipeline=pipeline,
        kind=kind,
        status="running",
        started_at=now,
        host=host,
        cycle_at=cycle_at,
        replica=replica,
    )
    session.add(run)
    session.flush()
    return run


def finish_run(*, session: Session, run_id: int, outcome: RunOutcome, now: datetime) -> None:
    """Close a pipeline run with its counts, status and per-series errors."""
    run = session.get(PipelineRun, run_id)
    if run is None:
        return
    run.finished_at = now
    run.status = outcome.status
    run.series_count = outcome.series_count
    run.series_failed = len(outcome.errors)
    run.points_read = outcome.points_read
    run.anomalies_written = outcome.anomalies_written
    run.error = error_text(outcome.errors)
    run.series_errors = {n: m[:SERIES_ERROR_CHARS] for n, m in outcome.errors.items()} or None
    run.series_notes = {n: m[:SERIES_ERROR_CHARS] for n, m in outcome.notes.items()} or None


def error_text(errors: Mapping[str, str]) -> str | None:
    """The `error` column: `series: message; …`, cut to ERROR_TEXT_CHARS (the full messages
    are in `series_errors`)."""
    return (
        "; ".join(f"{name}: {message}" for name, message in errors.items())[:ERROR_TEXT_CHARS]
        or None
    )
