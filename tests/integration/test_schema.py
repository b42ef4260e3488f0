"""The SQL contract round-trips on SQLite and PostgreSQL, with UTC-aware timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.database import DatabaseSettings
from forecaster.db.session import make_engine
from forecaster.db.tables import (
    ALL_TABLES,
    Anomaly,
    AnomalyEvent,
    Forecast,
    ModelVersion,
    Observation,
    PipelineRun,
    Series,
    Watermark,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def test_every_table_exists(engine: Engine) -> None:
    assert set(ALL_TABLES) <= set(inspect(engine).get_table_names())
    assert set(ALL_TABLES) == {
        "series",
        "observations",
        "model_versions",
        "forecasts",
        "anomalies",
        "anomaly_events",
        "pipeline_runs",
        "watermarks",
        "series_leases",
        "notification_outbox",
    }


def test_round_trip_of_every_table(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        series = Series(name="s1", kind="stock", unit="pts", frequency="B")
        session.add(series)
        session.flush()
        session.add(Observation(series_id=series.id, ts=T0, value=1.5))
        version = ModelVersion(
            pipeline="p",
            series_id=series.id,
            version=1,
            trained_from=T0 - timedelta(days=30),
            trained_to=T0,
            metrics={"val_mae": 0.25},
            artifact_path="p/s1/1",
        )
        run = PipelineRun(pipeline="p", kind="detect", points_read=10)
        session.add_all([version, run])
        session.flush()
        session.add(
            Forecast(
                pipeline="p",
                series_id=series.id,
                issued_at=T0,
                ts=T0 + timedelta(days=1),
                step=1,
                predicted=2.0,
                lower=1.0,
                upper=3.0,
                model_version_id=version.id,
            )
        )
        session.add(
            Anomaly(
                pipeline="p",
                series_id=series.id,
                ts=T0,
                observed=9.0,
                predicted=2.0,
                residual=7.0,
                threshold=3.0,
                score=0.99,
                severity="high",
                direction="up",
                model_version_id=version.id,
                run_id=run.id,
            )
        )
        session.add(
            AnomalyEvent(
                pipeline="p",
                series_id=series.id,
                start_ts=T0,
                end_ts=T0,
                peak_ts=T0,
                peak_score=0.99,
                n_points=1,
                direction="up",
                severity="high",
                run_id=run.id,
            )
        )
        session.add(Watermark(pipeline="p", series_id=series.id, last_ts=T0))

    with sessions() as session:
        stored = session.scalars(select(Series)).one()
        assert (stored.name, stored.kind, stored.unit, stored.frequency) == (
            "s1",
            "stock",
            "pts",
            "B",
        )
        assert stored.created_at.tzinfo is not None
        observation = session.scalars(select(Observation)).one()
        assert observation.ts == T0 and observation.ts.utcoffset() == timedelta(0)
        assert session.scalars(select(ModelVersion)).one().metrics == {"val_mae": 0.25}
        forecast = session.scalars(select(Forecast)).one()
        assert (forecast.predicted, forecast.lower, forecast.upper) == (2.0, 1.0, 3.0)
        anomaly = session.scalars(select(Anomaly)).one()
        assert (anomaly.score, anomaly.direction, anomaly.ts) == (0.99, "up", T0)
        event = session.scalars(select(AnomalyEvent)).one()
        assert event.n_points == 1 and event.end_ts == T0
        assert session.scalars(select(Watermark)).one().last_ts == T0
        assert session.scalars(select(PipelineRun)).one().status == "running"


def test_non_utc_input_is_stored_as_utc(sessions: sessionmaker[Session]) -> None:
    tokyo = timezone(timedelta(hours=9))
    with sessions.begin() as session:
        series = Series(name="s", kind="sensor")
        session.add(series)
        session.flush()
        session.add(
            Observation(series_id=series.id, ts=datetime(2024, 3, 1, 21, tzinfo=tokyo), value=1)
        )
    with sessions() as session:
        ts = session.scalars(select(Observation.ts)).one()
    assert ts == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert ts.tzinfo == UTC


def test_naive_timestamps_are_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="timezone-aware"), sessions.begin() as session:
        session.add(Observation(series_id=new_series(session).id, ts=datetime(2024, 3, 1), value=1))
        session.flush()


def anomaly(series_id: int, score: float = 0.9) -> Anomaly:
    return Anomaly(
        pipeline="p",
        series_id=series_id,
        ts=T0,
        observed=1,
        predicted=0,
        residual=1,
        threshold=0.5,
        score=score,
        severity="high",
        direction="up",
    )


def new_series(session: Session) -> Series:
    series = Series(name="s", kind="sensor")
    session.add(series)
    session.flush()
    return series


def test_score_must_be_within_zero_and_one(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(anomaly(new_series(session).id, score=1.5))
        session.flush()


def test_one_anomaly_per_pipeline_series_and_time(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), sessions.begin() as session:
        series = new_series(session)
        session.add(anomaly(series.id))
        session.flush()
        session.add(anomaly(series.id))
        session.flush()


def test_series_names_are_unique(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add_all([Series(name="dup", kind="sensor"), Series(name="dup", kind="stock")])
        session.flush()


@pytest.mark.postgresql
def test_timestamps_are_timestamptz_on_postgresql(pg_migrated_url: str) -> None:
    engine = create_engine(pg_migrated_url)
    with engine.connect() as connection:
        types = dict(
            connection.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type "
                    "FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND column_name IN ('ts', 'start_ts', 'last_ts')"
                )
            ).all()
        )
    assert types["observations.ts"] == "timestamp with time zone"
    assert types["anomalies.ts"] == "timestamp with time zone"
    assert types["anomaly_events.start_ts"] == "timestamp with time zone"
    assert types["watermarks.last_ts"] == "timestamp with time zone"
    engine.dispose()


def test_analyst_indexes_exist(engine: Engine) -> None:
    inspector = inspect(engine)
    anomaly_indexes = {tuple(ix["column_names"]) for ix in inspector.get_indexes("anomalies")}
    assert {("series_id", "ts"), ("score",), ("ts",)} <= anomaly_indexes
    event_indexes = {tuple(ix["column_names"]) for ix in inspector.get_indexes("anomaly_events")}
    assert {("start_ts",), ("series_id", "start_ts")} <= event_indexes


def test_postgresql_queries_are_planned_with_their_values_never_prepared(
    pg_migrated_url: str,
) -> None:
    # A server-side prepared statement gets a generic plan after five runs; for the daemon's
    # last-events query that plan took 1.3 s instead of 1 ms. The engine never prepares.
    engine = make_engine(DatabaseSettings(url=pg_migrated_url))
    try:
        with engine.connect() as connection:
            for _ in range(10):
                connection.execute(select(Series.id).where(Series.id.in_([1, 2, 3]))).all()
            prepared = connection.execute(text("SELECT count(*) FROM pg_prepared_statements"))
            assert prepared.scalar() == 0
    finally:
        engine.dispose()
