"""The source layer reads a user's own table in place; identifiers are checked, never pasted."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.source import TableSourceSettings
from forecaster.db.repo.observations import upsert_observations
from forecaster.db.repo.series import create_series
from forecaster.db.time_range import TimeRange
from forecaster.errors import SeriesNotFound, SourceError
from forecaster.io.observations import ObservationsSource
from forecaster.io.tables import TableSource


@pytest.fixture
def readings(engine: Engine) -> Table:
    """A long-format sensor table as a user might have it: naive local times, int sensor ids."""
    metadata = MetaData()
    table = Table(
        "plant_readings",
        metadata,
        Column("sensor_id", Integer),
        Column("recorded_at", DateTime()),
        Column("reading", Float),
        Column("site", String(20)),
    )
    metadata.create_all(engine)
    rows = [
        {
            "sensor_id": sensor,
            "recorded_at": datetime(2024, 1, 1, hour),
            "reading": sensor * 100 + hour,
            "site": "north",
        }
        for sensor in (1, 2)
        for hour in range(6)
    ]
    rows.append(
        {"sensor_id": 1, "recorded_at": datetime(2024, 1, 1, 6), "reading": None, "site": "n"}
    )
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    return table


def settings(**overrides: str | None) -> TableSourceSettings:
    values: dict[str, str | None] = {
        "table": "plant_readings",
        "time_column": "recorded_at",
        "value_column": "reading",
    }
    values.update(overrides)
    return TableSourceSettings.model_validate(values)


def test_long_table_lists_and_reads_each_series(
    readings: Table, sessions: sessionmaker[Session]
) -> None:
    source = TableSource(settings(series_column="sensor_id"))
    with sessions() as session:
        assert source.series_names(session) == ["1", "2"]
        points = source.read(session, "2")
    assert list(points) == [200.0, 201.0, 202.0, 203.0, 204.0, 205.0]
    assert points.index[0] == pd.Timestamp("2024-01-01 00:00", tz="UTC")
    assert str(points.index.tz) == "UTC"


def test_time_range_bounds_and_null_values(
    readings: Table, sessions: sessionmaker[Session]
) -> None:
    source = TableSource(settings(series_column="sensor_id", series_value="1", series_name="pump"))
    start = datetime(2024, 1, 1, 2, tzinfo=UTC)
    end = datetime(2024, 1, 1, 6, tzinfo=UTC)
    with sessions() as session:
        assert source.series_names(session) == ["pump"]
        inclusive = source.read(session, "pump", TimeRange(start=start, end=end))
        after = source.read(session, "pump", TimeRange.after(start, end))
    assert list(inclusive.index.hour) == [2, 3, 4, 5, 6]
    assert list(after.index.hour) == [3, 4, 5, 6]
    with sessions() as session:
        assert source.count(session, "pump", TimeRange.after(start, end)) == 4
    assert inclusive.isna().sum() == 1  # a NULL reading is a gap, not a dropped row


def test_naive_times_in_a_configured_zone(readings: Table, sessions: sessionmaker[Session]) -> None:
    source = TableSource(settings(series_column="sensor_id", timezone="America/New_York"))
    with sessions() as session:
        points = source.read(session, "1", TimeRange(start=datetime(2024, 1, 1, 7, tzinfo=UTC)))
    # 02:00 in New York in January is 07:00 UTC.
    assert points.index[0] == pd.Timestamp("2024-01-01 07:00", tz="UTC")
    assert points.iloc[0] == 102.0


def test_single_series_table_is_named_after_the_table(
    readings: Table, sessions: sessionmaker[Session]
) -> None:
    source = TableSource(settings())
    with sessions() as session:
        assert source.series_names(session) == ["plant_readings"]
        assert len(source.read(session, "plant_readings")) == 13
        with pytest.raises(SourceError, match="provides series 'plant_readings', not 'other'"):
            source.read(session, "other")


def test_missing_table_is_named(engine: Engine, sessions: sessionmaker[Session]) -> None:
    source = TableSource(settings(table="no_such_table"))
    with (
        sessions() as session,
        pytest.raises(SourceError, match="source table 'no_such_table' does not exist"),
    ):
        source.read(session, "no_such_table")


def test_missing_column_is_named_with_the_real_columns(
    readings: Table, sessions: sessionmaker[Session]
) -> None:
    source = TableSource(settings(value_column="temperature"))
    with sessions() as session, pytest.raises(SourceError) as info:
        source.read(session, "plant_readings")
    assert str(info.value) == (
        "source value_column 'temperature' is not a column of table 'plant_readings' "
        "(columns: sensor_id, recorded_at, reading, site)"
    )


@pytest.mark.parametrize("key", ["value_column", "time_column", "series_column", "table"])
def test_identifier_injection_is_rejected(
    readings: Table, engine: Engine, sessions: sessionmaker[Session], key: str
) -> None:
    attack = "value; drop table plant_readings"
    source = TableSource(settings(**{key: attack}))
    with sessions() as session, pytest.raises(SourceError, match="drop table plant_readings"):
        source.series_names(session) if key == "series_column" else source.read(
            session, "plant_readings"
        )
    assert inspect(engine).has_table("plant_readings")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM plant_readings")).scalar() == 13


def test_text_timestamps_in_sqlite(engine: Engine, sessions: sessionmaker[Session]) -> None:
    """SQLite users often store times as text; those are parsed after reading."""
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE txt (t VARCHAR(40), v DOUBLE PRECISION)"))
        connection.execute(
            text("INSERT INTO txt VALUES ('2024-01-01T00:00:00Z', 1), ('2024-01-01T01:00:00Z', 2)")
        )
    source = TableSource(settings(table="txt", time_column="t", value_column="v"))
    with sessions() as session:
        points = source.read(session, "txt", TimeRange(start=datetime(2024, 1, 1, 1, tzinfo=UTC)))
    assert list(points) == [2.0]


def test_observations_source(sessions: sessionmaker[Session]) -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC")
    with sessions.begin() as session:
        series = create_series(session=session, name="s", kind="sensor")
        upsert_observations(
            session=session,
            series_id=series.id,
            points=pd.Series([1.0, 2.0, 3.0, 4.0], index=index),
        )
    source = ObservationsSource()
    with sessions() as session:
        assert source.series_names(session) == ["s"]
        points = source.read(session, "s", TimeRange.after(index[1].to_pydatetime()))
        assert list(points) == [3.0, 4.0]
        # What progress bars count: the points `read` returns, without reading them.
        assert source.count(session, "s", TimeRange.after(index[1].to_pydatetime())) == 2
        assert source.count(session, "s", TimeRange(end=index[2].to_pydatetime())) == 3
        assert source.count(session, "s") == 4
        with pytest.raises(SeriesNotFound, match="no series named 'nope'"):
            source.read(session, "nope")


def test_newest_points_of_several_series_in_one_call(
    readings: Table, sessions: sessionmaker[Session]
) -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC")
    with sessions.begin() as session:
        for name, points in (("a", 4), ("b", 2)):
            series = create_series(session=session, name=name, kind="sensor")
            upsert_observations(
                session=session,
                series_id=series.id,
                points=pd.Series(range(points), index=index[:points], dtype=float),
            )
        create_series(session=session, name="empty", kind="sensor")
    own, table = ObservationsSource(), TableSource(settings(series_column="sensor_id"))
    with sessions() as session:
        assert own.newest_of(session, ["a", "b", "empty"]) == {
            "a": index[3],
            "b": index[1],
            "empty": None,
        }
        assert table.newest_of(session, ["1", "2"]) == {
            name: table.newest(session, name) for name in ("1", "2")
        }
        with pytest.raises(SeriesNotFound):
            own.newest_of(session, ["a", "nope"])


def test_the_first_points_of_a_series_from_either_source(
    readings: Table, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """What a series' grid is inferred from: its first points, without reading all of it."""
    table_source = TableSource(settings(series_column="sensor_id"))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE txt (t VARCHAR(40), v DOUBLE PRECISION)"))
        connection.execute(
            text("INSERT INTO txt VALUES ('2024-01-01T05:00:00Z', 3), ('2024-01-01T01:00:00Z', 2)")
        )
    text_source = TableSource(settings(table="txt", time_column="t", value_column="v"))
    index = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC")
    with sessions.begin() as session:
        series = create_series(session=session, name="s", kind="sensor")
        upsert_observations(
            session=session, series_id=series.id, points=pd.Series(np.arange(40.0), index=index)
        )
    with sessions() as session:
        assert list(table_source.first(session, "2", 3)) == [200.0, 201.0, 202.0]
        assert len(table_source.first(session, "1", 100)) == 7
        assert list(text_source.first(session, "txt", 1)) == [2.0]  # parsed, then ordered
        first = ObservationsSource().first(session, "s", 5)
    assert list(first) == [0.0, 1.0, 2.0, 3.0, 4.0] and first.index[0] == index[0]


def test_text_dates_in_a_source_table_are_read_with_one_format(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE eu (t VARCHAR(40), v DOUBLE PRECISION)"))
        connection.execute(
            text("INSERT INTO eu VALUES ('01/02/2020', 1), ('13/02/2020', 2), ('02/03/2020', 3)")
        )
        connection.execute(text("CREATE TABLE amb (t VARCHAR(40), v DOUBLE PRECISION)"))
        connection.execute(text("INSERT INTO amb VALUES ('01/02/2020', 1), ('02/03/2020', 2)"))
    eu = TableSource(settings(table="eu", time_column="t", value_column="v"))
    ambiguous = TableSource(settings(table="amb", time_column="t", value_column="v"))
    told = TableSource(
        TableSourceSettings.model_validate(
            {"table": "amb", "time_column": "t", "value_column": "v", "dayfirst": True}
        )
    )
    with sessions() as session:
        days = list(eu.read(session, "eu").index.strftime("%m-%d"))
        with pytest.raises(SourceError, match=r"ambiguous.*set the source's dayfirst"):
            ambiguous.read(session, "amb")
        assert list(told.read(session, "amb").index.strftime("%m-%d")) == ["02-01", "03-02"]
    assert days == ["02-01", "02-13", "03-02"]  # day first for every row, as row 2 tells
