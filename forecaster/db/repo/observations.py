"""The `observations` table: idempotent upserts and fast reads of raw points."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import String, and_, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from forecaster.db.repo.copy_read import copy_columns
from forecaster.db.repo.rescoring import mark_rescoring
from forecaster.db.repo.upsert import UPSERT_BATCH_ROWS, dialect_insert
from forecaster.db.tables import Observation, Series
from forecaster.db.time_range import TimeRange
from forecaster.series.grid import Grid


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did to the table."""

    inserted: int
    updated: int
    unchanged: int


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
    insert = dialect_insert(session)(table)
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
    if len(to_write):
        _mark_changed(session, series_id, pd.DatetimeIndex(to_write.index).min())
    return UpsertCounts(
        inserted=int(is_new.sum()),
        updated=int(is_changed.sum()),
        unchanged=len(points) - len(to_write),
    )


def _mark_changed(session: Session, series_id: int, earliest: pd.Timestamp) -> None:
    """Pipelines that already processed `earliest` re-score from it (late data, corrections);
    a point up to half an interval after a watermark still falls into its bin."""
    frequency = session.scalar(select(Series.frequency).where(Series.id == series_id))
    slack = pd.Timedelta(0)
    if frequency is not None:
        slack = Grid(frequency).lead
    mark_rescoring(
        session=session,
        series_id=series_id,
        since=earliest.to_pydatetime(),
        slack=slack.to_pytimedelta(),
    )


def read_observations(
    *, session: Session, series_id: int, time_range: TimeRange = TimeRange()
) -> pd.Series:
    """A series' points in `time_range`, sorted, as floats on a UTC DatetimeIndex."""
    table = Observation.__table__.c
    statement = select(raw_time(table.ts), table.value).where(table.series_id == series_id)
    statement = time_range.filter(statement, table.ts).order_by(table.ts)
    return read_point_rows(session, statement)


def count_observations(
    *, session: Session, series_id: int, time_range: TimeRange = TimeRange()
) -> int:
    """How many points `read_observations` returns for `time_range`."""
    table = Observation.__table__.c
    statement = select(func.count()).select_from(Observation.__table__)
    statement = time_range.filter(statement.where(table.series_id == series_id), table.ts)
    return int(session.execute(statement).scalar_one())


def first_observations(*, session: Session, series_id: int, count: int) -> pd.Series:
    """A series' first `count` points (as `read_observations`)."""
    table = Observation.__table__.c
    statement = (
        select(raw_time(table.ts), table.value)
        .where(table.series_id == series_id)
        .order_by(table.ts)
        .limit(count)
    )
    return read_point_rows(session, statement)


def read_observations_of(
    *, session: Session, ranges: Mapping[int, TimeRange]
) -> dict[int, pd.Series]:
    """Several series' points, each in its own time range, in one query per 100 series."""
    table = Observation.__table__.c
    found: dict[int, pd.Series] = {}
    ids = list(ranges)
    for first in range(0, len(ids), 100):
        batch = ids[first : first + 100]
        conditions = [and_(*ranges[i].conditions(table.ts), table.series_id == i) for i in batch]
        statement = (
            select(table.series_id, raw_time(table.ts), table.value)
            .where(or_(*conditions))
            .order_by(table.series_id, table.ts)
        )
        found.update(_read_points_by_series(session, statement, batch))
    return found


def _read_points_by_series(
    session: Session, statement: Any, ids: list[int]
) -> dict[int, pd.Series]:
    """The points of a (series_id, time, value) select ordered by series, split by series."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        columns = copy_columns(connection, statement, ("int4", "timestamptz", "float8"))
        if columns is not None:
            owners, times, values = columns
            return {i: _points(times[owners == i], values[owners == i]) for i in ids}
    by_series: dict[int, list[Any]] = {i: [] for i in ids}
    for series_id, ts, value in connection.execute(statement).all():
        by_series[series_id].append((ts, value))
    return {i: points_from_rows(points) for i, points in by_series.items()}


def newest_observations_of(
    *, session: Session, names: Sequence[str]
) -> dict[str, pd.Timestamp | None]:
    """Time of each named series' newest observation (series without a row are left out), in
    one query per 500 series: a correlated max per series, which both databases answer from
    the primary key index."""
    found: dict[str, pd.Timestamp | None] = {}
    for first in range(0, len(names), 500):
        newest = (
            select(func.max(Observation.ts))
            .where(Observation.series_id == Series.id)
            .correlate(Series)
            .scalar_subquery()
        )
        batch = list(names[first : first + 500])
        rows = session.execute(select(Series.name, newest).where(Series.name.in_(batch)))
        found.update(
            {name: None if ts is None else pd.Timestamp(ts).tz_convert("UTC") for name, ts in rows}
        )
    return found


def observation_edge(*, session: Session, series_id: int, newest: bool) -> pd.Timestamp | None:
    """Time of a series' newest (or oldest) stored observation, None when it has none."""
    edge = func.max(Observation.ts) if newest else func.min(Observation.ts)
    found = session.scalar(select(edge).where(Observation.series_id == series_id))
    return None if found is None else pd.Timestamp(found).tz_convert("UTC")


def raw_time(column: Any) -> Any:
    """The column without per-row conversion to datetime objects (see `read_point_rows`)."""
    return type_coerce(column, String).label(column.name)


def read_point_rows(session: Session, statement: Any) -> pd.Series:
    """Run a (time, value) select in Core and convert the times in one vectorised step.

    Scoring reads thousands of points per series and cycle; converting each timestamp to a
    Python datetime dominated that cost. SQLite returns the stored text (naive UTC), which
    numpy parses at once; PostgreSQL streams the rows as a binary COPY that numpy reads
    whole (about 3x faster than fetching them), unless a value is NULL.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        columns = copy_columns(connection, statement, ("timestamptz", "float8"))
        if columns is not None:
            return _points(*columns)
    return points_from_rows(connection.execute(statement).all())


def _points(times: np.ndarray, values: np.ndarray) -> pd.Series:
    """The standard points series from datetime64 (UTC) times and float values."""
    if not len(times):
        return points_from_rows([])
    index = pd.DatetimeIndex(times, name="ts").tz_localize("UTC")
    return pd.Series(values, index=index, name="value")


def points_from_rows(rows: Sequence[Any]) -> pd.Series:
    """Build the standard points series from (ts, value) rows (aware datetimes or UTC text)."""
    if not rows:
        return pd.Series(
            np.array([], dtype=float), index=pd.DatetimeIndex([], tz="UTC", name="ts"), name="value"
        )
    timestamps, values = two_columns(rows)
    index = pd.DatetimeIndex(_utc_times(timestamps), name="ts")
    return pd.Series(np.asarray(values, dtype=float), index=index, name="value")


def two_columns(rows: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """The first and second values of each row as two lists (zip(*rows) over thousands of
    rows is ten times slower: one argument per row)."""
    return [row[0] for row in rows], [row[1] for row in rows]


def _utc_times(timestamps: list[Any]) -> pd.DatetimeIndex:
    """UTC times from aware datetimes (PostgreSQL) or SQLite's naive UTC text."""
    if isinstance(timestamps[0], str):
        # numpy parses plain ISO text ~5x faster than pandas (a daemon cycle reads thousands of
        # tiny results); text with a zone offset warns there and takes the general path.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                parsed = np.array(timestamps, dtype="datetime64[us]")
            except (ValueError, UserWarning, DeprecationWarning):
                parsed = None
        if parsed is not None:
            return pd.DatetimeIndex(parsed).tz_localize("UTC")
    # ISO8601 parses aware datetimes and text with offsets alike, vectorised.
    return pd.DatetimeIndex(pd.to_datetime(timestamps, utc=True, format="ISO8601"))
