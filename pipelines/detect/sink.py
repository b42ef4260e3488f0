"""Where a detection step's rows go: the database sink writes them in the caller's transaction.

A sink takes the rows of several series at once (the daemon writes a whole claim in one
statement per table); the pipeline that owns the transaction commits them with the watermarks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from forecaster.db.repo.anomalies import upsert_anomalies
from forecaster.db.repo.events import upsert_events
from forecaster.db.repo.forecasts import upsert_forecast_columns
from forecaster.db.repo.series import record_grids
from forecaster.db.repo.watermarks import set_watermarks
from pipelines.detect.rows import StepRows


class StepSink(Protocol):
    """Anything that stores the rows of detection steps."""

    def write(self, rows: Sequence[StepRows]) -> None:
        """Store the rows of these steps (of distinct series) together."""
        ...


class DatabaseSink:
    """Upserts steps' rows in one session, one statement per table for all of them."""

    def __init__(self, session: Session, *, now: datetime) -> None:
        self.session = session
        self.now = now

    def write(self, rows: Sequence[StepRows]) -> None:
        session = self.session
        upsert_anomalies(session=session, rows=[a for r in rows for a in r.anomalies])
        upsert_events(session=session, rows=[e for r in rows for e in r.events])
        blocks = [block for r in rows for block in r.forecasts]
        upsert_forecast_columns(session=session, blocks=blocks, now=self.now)
        set_watermarks(session=session, rows=[r.watermark for r in rows if r.watermark])
        grids = {
            r.series_id: (r.grid.frequency, r.grid.origin().to_pydatetime())
            for r in rows
            if r.grid is not None
        }
        record_grids(session=session, grids=grids)


SinkFactory = Callable[[Session, datetime], StepSink]  # a sink for a transaction's session


def database_sink(session: Session, now: datetime) -> StepSink:
    """The rows go to the database in the caller's transaction (what every run does unless
    its caller wraps the sink, e.g. to queue notifications)."""
    return DatabaseSink(session, now=now)
