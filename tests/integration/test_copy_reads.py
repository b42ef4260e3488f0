"""Point reads: PostgreSQL's binary COPY path returns exactly what fetching the rows returns
(times, values, order, ranges, empty results, NULLs), and SQLite keeps its own path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import case, null, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.database import DatabaseSettings
from forecaster.db.repo.copy_read import copy_columns, parse_binary_copy
from forecaster.db.repo.observations import (
    first_observations,
    points_from_rows,
    raw_time,
    read_observations,
    read_observations_of,
    read_point_rows,
    upsert_observations,
)
from forecaster.db.repo.series import create_series
from forecaster.db.session import make_engine, make_session_factory, transaction
from forecaster.db.tables import Observation
from forecaster.db.time_range import TimeRange

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _store(session: Session, name: str, n: int, seed: int) -> int:
    """A series of n 5-minute points (one with microseconds, one negative, one huge)."""
    series_id = create_series(session=session, name=name, kind="sensor").id
    index = pd.DatetimeIndex([T0 + timedelta(minutes=5 * i) for i in range(n)])
    index = index.insert(1, T0 + timedelta(microseconds=7))
    values = np.random.default_rng(seed).normal(0, 1, n + 1)
    values[2], values[3] = -1e300, 123456789.125
    upsert_observations(session=session, series_id=series_id, points=pd.Series(values, index))
    return series_id


def _fetched(session: Session, series_id: int, time_range: TimeRange) -> pd.Series:
    """The same read as read_observations, through ordinary row fetching."""
    table = Observation.__table__.c
    statement = select(raw_time(table.ts), table.value).where(table.series_id == series_id)
    rows = session.connection().execute(time_range.filter(statement, table.ts).order_by(table.ts))
    return points_from_rows(rows.all())


RANGES = [
    TimeRange(),
    TimeRange(start=T0 + timedelta(microseconds=7)),
    TimeRange.after(T0 + timedelta(microseconds=7), end=T0 + timedelta(minutes=50)),
    TimeRange(start=T0 + timedelta(days=30)),  # nothing there
]


@pytest.mark.parametrize("time_range", RANGES)
def test_reads_equal_fetched_rows(sessions: sessionmaker[Session], time_range: TimeRange) -> None:
    with transaction(sessions) as session:
        series_id = _store(session, "copy", 300, seed=1)
    with transaction(sessions) as session:
        read = read_observations(session=session, series_id=series_id, time_range=time_range)
        fetched = _fetched(session, series_id, time_range)
    pd.testing.assert_series_equal(read, fetched)
    assert str(read.index.tz) == "UTC"


def test_first_and_several_series_read_alike(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        ids = [_store(session, f"s{k}", 50 + 10 * k, seed=k) for k in range(3)]
        empty = create_series(session=session, name="empty", kind="sensor").id
    with transaction(sessions) as session:
        whole = {i: _fetched(session, i, TimeRange()) for i in ids}
        ranges = {i: TimeRange(start=T0 + timedelta(minutes=5)) for i in [*ids, empty]}
        several = read_observations_of(session=session, ranges=ranges)
        head = first_observations(session=session, series_id=ids[1], count=7)
    for i in ids:
        pd.testing.assert_series_equal(
            several[i], whole[i][whole[i].index >= T0 + timedelta(minutes=5)]
        )
    assert several[empty].empty
    pd.testing.assert_series_equal(head, whole[ids[1]].iloc[:7])


def test_null_values_read_as_nan(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        series_id = _store(session, "nulls", 5, seed=2)
    table = Observation.__table__.c
    hole = T0 + timedelta(minutes=10)
    value = case((table.ts == hole, null()), else_=table.value)
    statement = (
        select(raw_time(table.ts), value).where(table.series_id == series_id).order_by(table.ts)
    )
    with transaction(sessions) as session:
        read = read_point_rows(session, statement)
        fetched = _fetched(session, series_id, TimeRange())
    assert read.index.equals(fetched.index)
    assert np.isnan(read[hole]) and read.drop(hole).equals(fetched.drop(hole))


@pytest.fixture
def pg_sessions(pg_migrated_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the run's PostgreSQL database only (COPY is PostgreSQL's)."""
    engine = make_engine(DatabaseSettings(url=pg_migrated_url))
    yield make_session_factory(engine)
    engine.dispose()


def test_copy_columns_on_postgresql(pg_sessions: sessionmaker[Session]) -> None:
    with transaction(pg_sessions) as session:
        series_id = _store(session, f"cols-{uuid.uuid4()}", 20, seed=3)
        connection = session.connection()
        table = Observation.__table__.c
        statement = (
            select(table.series_id, table.ts, table.value)
            .where(table.series_id == series_id)
            .order_by(table.ts)
        )
        columns = copy_columns(connection, statement, ("int4", "timestamptz", "float8"))
        with pytest.raises(ValueError, match="timezone-aware"):
            copy_columns(connection, statement.where(table.ts >= datetime(2024, 1, 1)), ("int4",))
    assert columns is not None
    owners, times, values = columns
    assert owners.tolist() == [series_id] * 21
    assert times[1] == np.datetime64("2024-03-01T12:00:00.000007")
    assert values[2] == -1e300


def test_parse_refuses_other_streams_and_gives_up_on_nulls() -> None:
    with pytest.raises(ValueError, match="binary COPY"):
        parse_binary_copy(b"ts,value\n", ("float8",))
    header = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
    one = (1).to_bytes(2, "big") + (8).to_bytes(4, "big") + np.array([2.5], ">f8").tobytes()
    null = (1).to_bytes(2, "big") + (-1).to_bytes(4, "big", signed=True)
    trailer = (-1).to_bytes(2, "big", signed=True)
    parsed = parse_binary_copy(header + one + one + trailer, ("float8",))
    assert parsed is not None and parsed[0].tolist() == [2.5, 2.5]
    assert parse_binary_copy(header + one + null + trailer, ("float8",)) is None
    assert parse_binary_copy(header + trailer, ("float8",))[0].size == 0  # type: ignore[index]
