"""Late and corrected observations: mark where each pipeline must re-score, and rewind it.

An observation written at or behind a pipeline's watermark (a correction, or a point that
arrived late) marks `watermarks.rescore_from`; the next run of that pipeline moves the
watermark back before it, deletes the anomalies and events after that point, and scores the
span again (one-step forecasts are overwritten by the same upserts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from forecaster.db.tables import Anomaly, AnomalyEvent, Series, Watermark


def mark_rescoring(
    *, session: Session, series_id: int, since: datetime, slack: timedelta = timedelta(0)
) -> None:
    """Mark every pipeline that processed `series_id` past `since` (within `slack`: a bin
    reaches that far after its grid time) to re-score from `since`."""
    earlier = case(
        (Watermark.rescore_from.is_(None), since),
        (Watermark.rescore_from > since, since),
        else_=Watermark.rescore_from,
    )
    session.execute(
        update(Watermark)
        .where(Watermark.series_id == series_id, Watermark.last_ts >= since - slack)
        .values(rescore_from=earlier)
    )


@dataclass(frozen=True)
class PendingRescore:
    """A series a pipeline must re-score: its row, watermark and first changed time."""

    series_id: int
    name: str
    frequency: str | None
    grid_origin: datetime | None
    last_ts: datetime
    rescore_from: datetime


def pending_rescoring(
    *, session: Session, pipeline: str, names: Sequence[str]
) -> list[PendingRescore]:
    """The series among `names` that the pipeline must re-score (one query per 500 names)."""
    found: list[PendingRescore] = []
    for start in range(0, len(names), 500):
        rows = session.execute(
            select(Series, Watermark.last_ts, Watermark.rescore_from)
            .join(Watermark, Watermark.series_id == Series.id)
            .where(
                Watermark.pipeline == pipeline,
                Watermark.rescore_from.is_not(None),
                Series.name.in_(list(names[start : start + 500])),
            )
        )
        found += [
            PendingRescore(s.id, s.name, s.frequency, s.grid_origin, last_ts, rescore_from)
            for s, last_ts, rescore_from in rows
            if rescore_from is not None
        ]
    return found


def rewind(*, session: Session, pipeline: str, series_id: int, before: datetime) -> datetime:
    """Move the pipeline's watermark of a series back to just before `before` (or before the
    start of an event that reaches `before`), delete the anomalies and events after it and
    clear the mark; the new watermark."""
    mark = clear_detections(session=session, pipeline=pipeline, series_id=series_id, before=before)
    assert mark is not None  # a bounded clear has a mark
    session.execute(
        update(Watermark)
        .where(Watermark.pipeline == pipeline, Watermark.series_id == series_id)
        .values(last_ts=mark, rescore_from=None)
    )
    return mark


def clear_detections(
    *, session: Session, pipeline: str, series_id: int, before: datetime | None
) -> datetime | None:
    """Delete the pipeline's anomalies and events of a series from `before` on (all of them
    when None); an event that reaches `before` goes whole, so the clear starts at its start.
    The time just before the first cleared point (None: everything was cleared)."""
    if before is None:
        mark = None
    else:
        reaching = session.scalar(
            select(func.min(AnomalyEvent.start_ts)).where(
                AnomalyEvent.pipeline == pipeline,
                AnomalyEvent.series_id == series_id,
                AnomalyEvent.end_ts >= before,
            )
        )
        if reaching is not None and reaching < before:
            before = reaching
        mark = before - timedelta(microseconds=1)
    events = [AnomalyEvent.pipeline == pipeline, AnomalyEvent.series_id == series_id]
    anomalies = [Anomaly.pipeline == pipeline, Anomaly.series_id == series_id]
    if mark is not None:
        events.append(AnomalyEvent.end_ts > mark)
        anomalies.append(Anomaly.ts > mark)
    session.execute(delete(AnomalyEvent).where(*events))
    session.execute(delete(Anomaly).where(*anomalies))
    return mark
