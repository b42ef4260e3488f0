"""The `series` table: find, create and list series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from forecaster.db.tables import (
    Observation,
    Series,
)
from forecaster.errors import SeriesNotFound


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


def record_grids(*, session: Session, grids: Mapping[int, tuple[str, datetime | None]]) -> None:
    """Store the frequency and grid origin a series was first processed with, where none is
    stored yet: later reads use them, whatever point they start at."""
    for series_id, (frequency, origin) in grids.items():
        session.execute(
            update(Series)
            .where(Series.id == series_id, Series.frequency.is_(None))
            .values(frequency=frequency)
        )
        if origin is not None:
            session.execute(
                update(Series)
                .where(Series.id == series_id, Series.grid_origin.is_(None))
                .values(grid_origin=origin)
            )
