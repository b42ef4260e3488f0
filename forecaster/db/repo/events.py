"""The `anomaly_events` table: incidents, extended while they grow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
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


def last_events_of(
    *, session: Session, pipeline: str, series_ids: Sequence[int]
) -> dict[int, AnomalyEvent]:
    """`last_event` of several series (those with an event), in one query per 500 series."""
    found: dict[int, AnomalyEvent] = {}
    ids = list(series_ids)
    for first in range(0, len(ids), 500):
        batch = ids[first : first + 500]
        latest = (
            select(AnomalyEvent.series_id, func.max(AnomalyEvent.start_ts).label("start_ts"))
            .where(AnomalyEvent.pipeline == pipeline, AnomalyEvent.series_id.in_(batch))
            .group_by(AnomalyEvent.series_id)
            .subquery()
        )
        rows = session.scalars(
            select(AnomalyEvent)
            .join(
                latest,
                (AnomalyEvent.series_id == latest.c.series_id)
                & (AnomalyEvent.start_ts == latest.c.start_ts),
            )
            .where(AnomalyEvent.pipeline == pipeline)
        )
        found.update({event.series_id: event for event in rows})
    return found


def upsert_events(*, session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or update events keyed by (pipeline, series_id, start_ts); returns the count."""
    return upsert_rows(session, AnomalyEvent.__table__, ("pipeline", "series_id", "start_ts"), rows)
