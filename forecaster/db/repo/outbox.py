"""The `notification_outbox` table: queue notifications with their events, claim the due ones,
record each attempt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from forecaster.db.tables import AnomalyEvent, NotificationOutbox, Series


@dataclass(frozen=True)
class Claimed:
    """A due notification taken by one sender: what to POST where."""

    id: int
    sink: str
    payload: str
    idempotency_key: str
    attempts: int  # failed attempts before this one


@dataclass(frozen=True)
class OutboxCounts:
    """How many notifications are waiting, and how many of them failed at least once."""

    pending: int
    failing: int
    delivered: int
    last_error: str | None


def enqueue(*, session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert notifications (event_id, kind, sink, payload, idempotency_key, created_at,
    next_attempt_at); a key already queued is left as it is. Returns how many were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    values = [{"attempts": 0, **row} for row in rows]
    if dialect == "postgresql":
        statement: Any = postgresql.insert(NotificationOutbox).values(values)
    elif dialect == "sqlite":
        statement = sqlite.insert(NotificationOutbox).values(values)
    else:
        raise NotImplementedError(f"the outbox supports SQLite and PostgreSQL, not {dialect}")
    statement = statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def claim_due(
    *, session: Session, sinks: Sequence[str], now: datetime, hold: timedelta
) -> Claimed | None:
    """The oldest undelivered notification to one of `sinks` that is due, held for `hold`
    (its next attempt moved past it) so that no other sender takes it meanwhile. PostgreSQL
    skips rows another replica has locked; None when nothing is due (or it was just taken)."""
    if not sinks:
        return None
    row = session.scalars(
        select(NotificationOutbox)
        .where(
            NotificationOutbox.delivered_at.is_(None),
            NotificationOutbox.next_attempt_at <= now,
            NotificationOutbox.sink.in_(list(sinks)),
        )
        .order_by(NotificationOutbox.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    # Held only if no one else moved it meanwhile (SQLite has no row locks: a backfill's
    # drain beside the daemon); a sender that dies mid-POST hands it back after `hold`.
    held = session.execute(
        update(NotificationOutbox)
        .where(
            NotificationOutbox.id == row.id,
            NotificationOutbox.next_attempt_at == row.next_attempt_at,
            NotificationOutbox.delivered_at.is_(None),
        )
        .values(next_attempt_at=now + hold)
        .execution_options(synchronize_session=False)
    )
    if getattr(held, "rowcount", 1) != 1:
        return None
    return Claimed(row.id, row.sink, row.payload, row.idempotency_key, row.attempts)


def mark_delivered(*, session: Session, outbox_id: int, now: datetime) -> None:
    """The receiver acknowledged the notification: it is never sent again."""
    session.execute(
        update(NotificationOutbox)
        .where(NotificationOutbox.id == outbox_id)
        .values(
            delivered_at=now,
            attempts=NotificationOutbox.attempts + 1,
            last_error=None,
            next_attempt_at=now,
        )
    )


def mark_failed(*, session: Session, outbox_id: int, error: str, next_attempt_at: datetime) -> None:
    """An attempt failed: count it, keep the reason, try again at `next_attempt_at`."""
    session.execute(
        update(NotificationOutbox)
        .where(NotificationOutbox.id == outbox_id)
        .values(
            attempts=NotificationOutbox.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=next_attempt_at,
        )
    )


def next_due(*, session: Session, sinks: Sequence[str]) -> datetime | None:
    """When the next undelivered notification to one of `sinks` is due (None: none waits)."""
    return session.scalar(
        select(func.min(NotificationOutbox.next_attempt_at)).where(
            NotificationOutbox.delivered_at.is_(None), NotificationOutbox.sink.in_(list(sinks))
        )
    )


def outbox_counts(*, session: Session) -> OutboxCounts:
    """Pending, failing and delivered notifications, and the newest failure's reason."""
    waiting = NotificationOutbox.delivered_at.is_(None)
    pending, failing, delivered = session.execute(
        select(
            func.count().filter(waiting),
            func.count().filter(waiting, NotificationOutbox.attempts > 0),
            func.count().filter(NotificationOutbox.delivered_at.is_not(None)),
        )
    ).one()
    last_error = session.scalar(
        select(NotificationOutbox.last_error)
        .where(waiting, NotificationOutbox.last_error.is_not(None))
        .order_by(NotificationOutbox.id.desc())
        .limit(1)
    )
    return OutboxCounts(int(pending), int(failing), int(delivered), last_error)


def events_named(
    *, session: Session, pipeline: str, keys: Sequence[tuple[int, datetime]]
) -> list[tuple[AnomalyEvent, Series]]:
    """The pipeline's events keyed by (series_id, start_ts), each with its series row, as
    stored now (the caller's upserts included)."""
    if not keys:
        return []
    wanted = set(keys)
    rows = session.execute(
        select(AnomalyEvent, Series)
        .join(Series, Series.id == AnomalyEvent.series_id)
        .where(
            AnomalyEvent.pipeline == pipeline,
            AnomalyEvent.series_id.in_(sorted({k[0] for k in wanted})),
            AnomalyEvent.start_ts >= min(k[1] for k in wanted),
        )
        .execution_options(populate_existing=True)
    )
    return [(e, s) for e, s in rows if (e.series_id, e.start_ts) in wanted]


def notified_open(
    *, session: Session, pipeline: str, series_ids: Sequence[int]
) -> list[tuple[AnomalyEvent, Series, str]]:
    """Events of these series whose opening was queued to a sink that has not had their
    close: (event, series name, sink) for each such sink."""
    if not series_ids:
        return []
    opened = aliased(NotificationOutbox)
    closed = aliased(NotificationOutbox)
    close_queued = (
        select(closed.id)
        .where(closed.event_id == AnomalyEvent.id, closed.kind == "close")
        .where(closed.sink == opened.sink)
        .exists()
    )
    rows = session.execute(
        select(AnomalyEvent, Series, opened.sink)
        .join(opened, opened.event_id == AnomalyEvent.id)
        .join(Series, Series.id == AnomalyEvent.series_id)
        .where(
            opened.kind == "open",
            AnomalyEvent.pipeline == pipeline,
            AnomalyEvent.series_id.in_(list(series_ids)),
            ~close_queued,
        )
    )
    return [(e, s, sink) for e, s, sink in rows]
