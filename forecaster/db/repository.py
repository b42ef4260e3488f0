"""Keyword-only read/write functions on the SQL contract; they take a session and never commit."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import String, and_, delete, func, or_, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forecaster.db.models import (
    Anomaly,
    AnomalyEvent,
    Forecast,
    ModelVersion,
    Observation,
    PipelineRun,
    Series,
    SeriesLease,
    Watermark,
)
from forecaster.db.types import utcnow
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
        conditions = self.conditions(column)
        return statement.where(*conditions) if conditions else statement

    def conditions(self, column: Any) -> list[Any]:
        """This range's bounds on `column` as SQL conditions (none when it is unbounded)."""
        conditions = []
        if self.start is not None:
            conditions.append(column > self.start if self.start_exclusive else column >= self.start)
        if self.end is not None:
            conditions.append(column <= self.end)
        return conditions


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


def ensure_series(*, session: Session, name: str, kind: str = "sensor") -> Series:
    """The series called `name`, created when a pipeline reads it from a user's table."""
    return find_series(session=session, name=name) or create_series(
        session=session, name=name, kind=kind
    )


def ensure_series_with_watermark(
    *, session: Session, pipeline: str, name: str
) -> tuple[Series, datetime | None]:
    """`ensure_series` and the pipeline's watermark of it, in one query."""
    found = session.execute(
        select(Series, Watermark.last_ts)
        .outerjoin(Watermark, (Watermark.series_id == Series.id) & (Watermark.pipeline == pipeline))
        .where(Series.name == name)
    ).first()
    if found is None:
        return create_series(session=session, name=name, kind="sensor"), None
    series, last_ts = found
    return series, last_ts


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


def series_ids(*, session: Session, names: Sequence[str]) -> dict[str, int]:
    """Row ids of the existing series among `names` (one query per 500 names)."""
    ids: dict[str, int] = {}
    for start in range(0, len(names), 500):
        batch = list(names[start : start + 500])
        rows = session.execute(select(Series.name, Series.id).where(Series.name.in_(batch)))
        ids.update({name: series_id for name, series_id in rows})
    return ids


def ensure_series_ids(*, session: Session, names: Sequence[str]) -> dict[str, int]:
    """`series_ids`, creating missing rows as `ensure_series` does."""
    ids = series_ids(session=session, names=names)
    for name in names:
        if name not in ids:
            ids[name] = create_series(session=session, name=name, kind="sensor").id
    return ids


def series_kinds(*, session: Session) -> dict[str, str]:
    """Every series' kind by name, in name order (no observation statistics: a daemon cycle
    starts with this and a count over all observations would cost seconds)."""
    rows = session.execute(select(Series.name, Series.kind).order_by(Series.name))
    return {name: kind for name, kind in rows}


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
    table = Observation.__table__.c
    statement = select(_raw_time(table.ts), table.value).where(table.series_id == series_id)
    statement = time_range.filter(statement, table.ts).order_by(table.ts)
    return _read_points(session, statement)


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
            select(table.series_id, _raw_time(table.ts), table.value)
            .where(or_(*conditions))
            .order_by(table.series_id, table.ts)
        )
        rows = session.connection().execute(statement).all()
        by_series: dict[int, list[Any]] = {i: [] for i in batch}
        for series_id, ts, value in rows:
            by_series[series_id].append((ts, value))
        found.update({i: points_from_rows(points) for i, points in by_series.items()})
    return found


def observation_edge(*, session: Session, series_id: int, newest: bool) -> pd.Timestamp | None:
    """Time of a series' newest (or oldest) stored observation, None when it has none."""
    edge = func.max(Observation.ts) if newest else func.min(Observation.ts)
    found = session.scalar(select(edge).where(Observation.series_id == series_id))
    return None if found is None else pd.Timestamp(found).tz_convert("UTC")


def _raw_time(column: Any) -> Any:
    """The column without per-row conversion to datetime objects (see `_read_points`)."""
    return type_coerce(column, String).label(column.name)


def _read_points(session: Session, statement: Any) -> pd.Series:
    """Run a (time, value) select in Core and convert the times in one vectorised step.

    Scoring reads thousands of points per series and cycle; converting each timestamp to a
    Python datetime dominated that cost. SQLite returns the stored text (naive UTC),
    PostgreSQL aware datetimes; pandas parses either as UTC.
    """
    return points_from_rows(session.connection().execute(statement).all())


def points_from_rows(rows: Sequence[Any]) -> pd.Series:
    """Build the standard points series from (ts, value) rows (aware datetimes or UTC text)."""
    if not rows:
        return pd.Series(
            np.array([], dtype=float), index=pd.DatetimeIndex([], tz="UTC", name="ts"), name="value"
        )
    timestamps, values = zip(*rows, strict=True)
    index = pd.DatetimeIndex(_utc_times(list(timestamps)), name="ts")
    return pd.Series(np.asarray(values, dtype=float), index=index, name="value")


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


def latest_model_version(*, session: Session, pipeline: str, series_id: int) -> ModelVersion | None:
    """The newest model_versions row of a series in a pipeline, or None."""
    return session.scalar(
        select(ModelVersion)
        .where(ModelVersion.pipeline == pipeline, ModelVersion.series_id == series_id)
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )


def find_model_version(
    *, session: Session, pipeline: str, series_id: int, version: int
) -> ModelVersion | None:
    """One model_versions row by its version number, or None."""
    return session.scalar(
        select(ModelVersion).where(
            ModelVersion.pipeline == pipeline,
            ModelVersion.series_id == series_id,
            ModelVersion.version == version,
        )
    )


def add_model_version(
    *,
    session: Session,
    pipeline: str,
    series_id: int,
    version: int,
    trained_from: datetime,
    trained_to: datetime,
    metrics: dict[str, Any],
    artifact_path: str,
) -> ModelVersion:
    """Record a stored model; returns the row with its id."""
    row = ModelVersion(
        pipeline=pipeline,
        series_id=series_id,
        version=version,
        trained_from=trained_from,
        trained_to=trained_to,
        metrics=metrics,
        artifact_path=artifact_path,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class ForecastRow:
    """One forecast value to store."""

    issued_at: datetime
    ts: datetime
    step: int
    predicted: float
    lower: float | None
    upper: float | None


def upsert_forecasts(
    *,
    session: Session,
    pipeline: str,
    series_id: int,
    model_version_id: int | None,
    rows: Sequence[ForecastRow],
) -> int:
    """Insert or replace forecasts keyed by (pipeline, series, issued_at, ts); returns the count."""
    return upsert_forecast_rows(
        session=session,
        rows=forecast_payload(
            pipeline=pipeline, series_id=series_id, model_version_id=model_version_id, rows=rows
        ),
    )


def upsert_forecast_rows(*, session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """`upsert_forecasts` of rows already in column form (several series in one statement)."""
    keys = ("pipeline", "series_id", "issued_at", "ts")
    return _upsert_rows(session, Forecast.__table__, keys, rows)


def forecast_payload(
    *, pipeline: str, series_id: int, model_version_id: int | None, rows: Sequence[ForecastRow]
) -> list[dict[str, Any]]:
    """The `forecasts` column values of a series' forecast rows."""
    return [
        {
            "pipeline": pipeline,
            "series_id": series_id,
            "issued_at": r.issued_at,
            "ts": r.ts,
            "step": r.step,
            "predicted": r.predicted,
            "lower": r.lower,
            "upper": r.upper,
            "model_version_id": model_version_id,
        }
        for r in rows
    ]


def list_model_versions(*, session: Session, pipeline: str, series_id: int) -> list[ModelVersion]:
    """Every model_versions row of a series in a pipeline, oldest first."""
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.pipeline == pipeline, ModelVersion.series_id == series_id)
            .order_by(ModelVersion.version)
        )
    )


def list_model_versions_of(
    *, session: Session, pipeline: str, series_ids: Sequence[int]
) -> dict[int, list[ModelVersion]]:
    """`list_model_versions` of several series in one query per 500 series."""
    found: dict[int, list[ModelVersion]] = {i: [] for i in series_ids}
    ids = list(series_ids)
    for start in range(0, len(ids), 500):
        rows = session.scalars(
            select(ModelVersion)
            .where(
                ModelVersion.pipeline == pipeline,
                ModelVersion.series_id.in_(ids[start : start + 500]),
            )
            .order_by(ModelVersion.series_id, ModelVersion.version)
        )
        for version in rows:
            found[version.series_id].append(version)
    return found


def read_one_step_predictions(
    *, session: Session, pipeline: str, series_id: int, time_range: TimeRange
) -> pd.Series:
    """Stored one-step-ahead predictions (step 1 forecasts) by target time."""
    table = Forecast.__table__.c
    statement = select(_raw_time(table.ts), table.predicted).where(
        table.pipeline == pipeline, table.series_id == series_id, table.step == 1
    )
    return _read_points(session, time_range.filter(statement, table.ts).order_by(table.ts))


def recent_one_step_predictions(
    *, session: Session, pipeline: str, series_id: int, until: datetime, limit: int
) -> pd.Series:
    """The last `limit` stored one-step predictions with target time <= `until`, by time."""
    rows = session.execute(
        select(Forecast.ts, Forecast.predicted)
        .where(
            Forecast.pipeline == pipeline,
            Forecast.series_id == series_id,
            Forecast.step == 1,
            Forecast.ts <= until,
        )
        .order_by(Forecast.ts.desc())
        .limit(limit)
    ).all()
    return points_from_rows(rows[::-1])


def get_watermark(*, session: Session, pipeline: str, series_id: int) -> datetime | None:
    """The time up to which a pipeline has processed a series, or None."""
    return session.scalar(
        select(Watermark.last_ts).where(
            Watermark.pipeline == pipeline, Watermark.series_id == series_id
        )
    )


def watermark_row(pipeline: str, series_id: int, last_ts: datetime) -> dict[str, Any]:
    """The `watermarks` column values that record a series processed up to `last_ts`."""
    return {
        "pipeline": pipeline,
        "series_id": series_id,
        "last_ts": last_ts,
        "updated_at": utcnow(),
    }


def set_watermarks(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Record that every point up to each row's `last_ts` is processed (rows from
    `watermark_row`, several series in one statement)."""
    _upsert_rows(session, Watermark.__table__, ("pipeline", "series_id"), rows)


def upsert_anomalies(*, session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or replace anomaly rows keyed by (pipeline, series_id, ts); returns the count."""
    return _upsert_rows(session, Anomaly.__table__, ("pipeline", "series_id", "ts"), rows)


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
    return _upsert_rows(
        session, AnomalyEvent.__table__, ("pipeline", "series_id", "start_ts"), rows
    )


def _upsert_rows(
    session: Session, table: Any, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> int:
    """Batched insert-or-update of dict rows on the unique key `keys`."""
    if not rows:
        return 0
    statement = _upsert_statement(
        session.get_bind().dialect.name, table, keys, tuple(c for c in rows[0] if c not in keys)
    )
    for start in range(0, len(rows), UPSERT_BATCH_ROWS):
        session.execute(statement, list(rows[start : start + UPSERT_BATCH_ROWS]))
    return len(rows)


@lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, table: Any, keys: tuple[str, ...], updated: tuple[str, ...]
) -> Any:
    """The insert-or-update statement of a table, built once: constructing `excluded` column
    proxies costs more than executing a small upsert (a daemon cycle runs thousands)."""
    insert = _insert_for(dialect)(table)
    return insert.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: getattr(insert.excluded, c) for c in updated},
    )


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


LeaseJob = Literal["detect", "retrain"]


def ensure_leases(*, session: Session, pipeline: str, series_ids: Sequence[int]) -> None:
    """Make the pipeline's lease rows exactly `series_ids`: create missing rows (existing ones
    keep their state) and drop rows of series the pipeline no longer selects."""
    session.execute(
        delete(SeriesLease).where(
            SeriesLease.pipeline == pipeline, SeriesLease.series_id.not_in(series_ids)
        )
    )
    if not series_ids:
        return
    table = SeriesLease.__table__
    insert = _dialect_insert(session)(table)
    rows = [{"pipeline": pipeline, "series_id": series_id} for series_id in series_ids]
    session.execute(
        insert.on_conflict_do_nothing(index_elements=[table.c.pipeline, table.c.series_id]),
        rows,
    )


def claim_series(
    *,
    session: Session,
    pipeline: str,
    job: LeaseJob,
    cycle_at: datetime,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int = 1,
) -> list[int]:
    """Lease up to `limit` series that no live lease holds and that `job` has not done in this
    cycle, lowest ids first; [] when nothing is left to claim.

    Rows locked by another replica's claim are skipped (PostgreSQL `FOR UPDATE SKIP LOCKED`);
    the caller commits, which publishes the claim. The pipeline's lease rows are its selected
    series (see `ensure_leases`).
    """
    done_in = SeriesLease.detect_cycle if job == "detect" else SeriesLease.retrain_cycle
    candidates = (
        select(SeriesLease.series_id)
        .where(
            SeriesLease.pipeline == pipeline,
            or_(done_in.is_(None), done_in < cycle_at),
            or_(SeriesLease.lease_until.is_(None), SeriesLease.lease_until < now),
        )
        .order_by(SeriesLease.series_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = [int(series_id) for series_id in session.scalars(candidates)]
    if claimed:
        session.execute(
            update(SeriesLease)
            .where(SeriesLease.pipeline == pipeline, SeriesLease.series_id.in_(claimed))
            .values({"owner": owner, "lease_until": lease_until, done_in.key: cycle_at})
        )
    return claimed


def renew_leases(*, session: Session, pipeline: str, owner: str, lease_until: datetime) -> int:
    """Extend every lease this owner holds in a pipeline; returns how many it still holds."""
    result = session.execute(
        update(SeriesLease)
        .where(SeriesLease.pipeline == pipeline, SeriesLease.owner == owner)
        .values(lease_until=lease_until)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def release_leases(
    *, session: Session, pipeline: str, series_ids: Sequence[int], owner: str
) -> None:
    """Give series back (the cycle marker stays: they are done for this cycle)."""
    session.execute(
        update(SeriesLease)
        .where(
            SeriesLease.pipeline == pipeline,
            SeriesLease.series_id.in_(list(series_ids)),
            SeriesLease.owner == owner,
        )
        .values(owner=None, lease_until=None)
    )


def _dialect_insert(session: Session) -> Any:
    return _insert_for(session.get_bind().dialect.name)


def _insert_for(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"upserts are implemented for SQLite and PostgreSQL, not {dialect}")
