"""The `anomaly_events` table: incidents, extended while they grow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.db.repo.upsert import upsert_rows
from forecaster.db.tables import (
    AnomalyEvent,
)


def last_event(*, session: Session, pipeline: str, series_id: int) -> AnomalyEvent | None:
    """The latest event of a series, which new anomalies may extend."""
    return session.scalar(
        select(AnomalyEvent)
        .where(AnomalyEvent.pipeline == pipeline, AnomalyEvent.series_id == series_id)
        .order_by(AnomalyEvent.start_ts.desc())
        .limit(1)
    )


def upsert_events(*, session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or update events keyed by (pipeline, series_id, start_ts); returns the count."""
    return upsert_rows(session, AnomalyEvent.__table__, ("pipeline", "series_id", "start_ts"), rows)
