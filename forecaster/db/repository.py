"""Keyword-only read/write functions on the SQL contract; they take a session and never commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forecaster.db.models import Observation, Series
from forecaster.errors import SeriesNotFound

UPSERT_BATCH_ROWS = 5_000


@dataclass(frozen=True)
class TimeRange:
    """A span of time; `start` inclusive unless `start_exclusive`, `end` inclusive. None = open."""

    start: datetime | None = None
    end: datetime | None = None
    start_exclusive: bool = False

    @classmethod
    def after(cls, ts: datetime | None, end: datetime | None = None) -> TimeRange:
        """Everything strictly after `ts` (a watermark) up to `end`."""
        return cls(start=ts, end=end, start_exclusive=True)

    def filter(self, statement: Any, column: Any) -> Any:
        """Add this range's bounds to a select on `column`."""
        if self.start is not None:
            statement = statement.where(
                column > self.start if self.start_exclusive else column >= self.start
            )
        if self.end is not None:
            statement = statement.where(column <= self.end)
        return statement


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did to the table."""

    inserted: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class SeriesSummary:
    """A series with how many points it has and the span they cover."""

    id: int
    name: str
    kind: str
    unit: str | None
    frequency: str | None
    points: int
    first_ts: datetime | None
    last_ts: datetime | None


def get_series(*, session: Session, name: str) -> Series:
    """The series called `name`; SeriesNotFound when there is none."""
    series = session.scalar(select(Series).where(Series.name == name))
    if series is None:
        raise SeriesNotFound(f"no series named {name!r} (see `forecaster series`)")
    return series


def find_series(*, session: Session, name: str) -> Series | None:
    """The series called `name`, or None."""
    return session.scalar(select(Series).where(Series.name == name))


def create_series(
    *,
    session: Session,
    name: str,
    kind: str,
    unit: str | None = None,
    frequency: str | None = None,
) -> Series:
    """Insert a new series row and return it with its id."""
    series = Series(name=name, kind=kind, unit=unit, frequency=frequency)
    session.add(series)
    session.flush()
    return series


def list_series(*, session: Session) -> list[SeriesSummary]:
    """Every series with its point count and span, by name."""
    stats = (
        select(
            Observation.series_id,
            func.count().label("points"),
            func.min(Observation.ts).label("first_ts"),
            func.max(Observation.ts).label("last_ts"),
        )
        .group_by(Observation.series_id)
        .subquery()
    )
    rows = session.execute(
        select(Series, stats.c.points, stats.c.first_ts, stats.c.last_ts)
        .outerjoin(stats, stats.c.series_id == Series.id)
        .order_by(Series.name)
    ).all()
    return [
        SeriesSummary(
            id=s.id,
            name=s.name,
            kind=s.kind,
            unit=s.unit,
            frequency=s.frequency,
            points=points or 0,
            first_ts=first_ts,
            last_ts=last_ts,
        )
        for s, points, first_ts, last_ts in rows
    ]


def count_observations(*, session: Session, series_id: int) -> int:
    """How many observations a series has."""
    return int(
        session.scalar(
            select(func.count()).select_from(Observation).where(Observation.series_id == series_id)
        )
        or 0
    )


def upsert_observations(
    *,
    session: Session,
    series_id: int,
    points: pd.Series,
    on_batch: Callable[[int], None] | None = None,
) -> UpsertCounts:
    """Insert new points and update changed values; identical points are not rewritten.

    `points` has a timezone-aware DatetimeIndex and finite float values.
    `on_batch(rows_done)` is called after each written batch, for progress display.
    """
    index = pd.DatetimeIndex(points.index)
    if index.tz is None:
        raise ValueError("points must have a timezone-aware index")
    if points.empty:
        return UpsertCounts(inserted=0, updated=0, unchanged=0)
    # Compare with what is stored first: exact counts on every dialect, and a reload of the
    # same file writes nothing at all.
    stored = read_observations(
        session=session,
        series_id=series_id,
        time_range=TimeRange(start=index[0].to_pydatetime(), end=index[-1].to_pydatetime()),
    )
    incoming = pd.Series(points.to_numpy(dtype=float), index=index)
    previous = stored.reindex(index)
    is_new = previous.isna().to_numpy()
    is_changed = ~is_new & (previous.to_numpy() != incoming.to_numpy())
    to_write = incoming[is_new | is_changed]

    table = Observation.__table__
    insert = _dialect_insert(session)(table)
    # Still an upsert: a concurrent writer may have added the same points meanwhile.
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.series_id, table.c.ts],
        set_={"value": insert.excluded.value},
    )
    timestamps = pd.DatetimeIndex(to_write.index).to_pydatetime()
    values = to_write.to_numpy(dtype=float)
    for start in range(0, len(to_write), UPSERT_BATCH_ROWS):
        stop = min(start + UPSERT_BATCH_ROWS, len(to_write))
        rows = [
            {"series_id": series_id, "ts": ts, "value": float(v)}
            for ts, v in zip(timestamps[start:stop], values[start:stop], strict=True)
        ]
        session.execute(statement, rows)
        if on_batch is not None:
            on_batch(stop)
    return UpsertCounts(
        inserted=int(is_new.sum()),
        updated=int(is_changed.sum()),
        unchanged=len(points) - len(to_write),
    )


def read_observations(
    *, session: Session, series_id: int, time_range: TimeRange = TimeRange()
) -> pd.Series:
    """A series' points in `time_range`, sorted, as floats on a UTC DatetimeIndex."""
    statement = select(Observation.ts, Observation.value).where(Observation.series_id == series_id)
    statement = time_range.filter(statement, Observation.ts).order_by(Observation.ts)
    rows = session.execute(statement).all()
    return points_from_rows(rows)


def points_from_rows(rows: Sequence[Any]) -> pd.Series:
    """Build the standard points series from (ts, value) rows of aware datetimes."""
    if not rows:
        return pd.Series(
            np.array([], dtype=float), index=pd.DatetimeIndex([], tz="UTC", name="ts"), name="value"
        )
    timestamps, values = zip(*rows, strict=True)
    index = pd.DatetimeIndex(pd.to_datetime(list(timestamps), utc=True), name="ts")
    return pd.Series(np.asarray(values, dtype=float), index=index, name="value")


def _dialect_insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"upserts are implemented for SQLite and PostgreSQL, not {name}")
