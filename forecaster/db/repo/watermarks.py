"""The `watermarks` table: how far each pipeline has processed each series."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.db.repo.upsert import upsert_rows
from forecaster.db.tables import (
    Series,
    Watermark,
)


def series_with_watermarks(
    *, session: Session, pipeline: str, names: Sequence[str]
) -> dict[str, tuple[Series, datetime | None]]:
    """The existing rows among `names` with the pipeline's watermark of each, in one query per
    500 names (a daemon batch reads all its series at once)."""
    found: dict[str, tuple[Series, datetime | None]] = {}
    for start in range(0, len(names), 500):
        rows = session.execute(
            select(Series, Watermark.last_ts)
            .outerjoin(
                Watermark, (Watermark.series_id == Series.id) & (Watermark.pipeline == pipeline)
            )
            .where(Series.name.in_(list(names[start : start + 500])))
        )
        found.update({series.name: (series, last_ts) for series, last_ts in rows})
    return found


def get_watermark(*, session: Session, pipeline: str, series_id: int) -> datetime | None:
    """The time up to which a pipeline has processed a series, or None."""
    return session.scalar(
        select(Watermark.last_ts).where(
            Watermark.pipeline == pipeline, Watermark.series_id == series_id
        )
    )


def watermark_row(
    pipeline: str, series_id: int, last_ts: datetime, *, now: datetime
) -> dict[str, Any]:
    """The `watermarks` column values that record a series processed up to `last_ts`."""
    return {"pipeline": pipeline, "series_id": series_id, "last_ts": last_ts, "updated_at": now}


def set_watermarks(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Record that every point up to each row's `last_ts` is processed (rows from
    `watermark_row`, several series in one statement)."""
    upsert_rows(session, Watermark.__table__, ("pipeline", "series_id"), rows)
