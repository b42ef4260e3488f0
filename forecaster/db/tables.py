"""SQLAlchemy 2.x typed tables: the public SQL contract, identical on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from forecaster.db.types import UTCDateTime, utcnow

# Stable constraint names let Alembic alter tables on SQLite (batch mode) and diff cleanly.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Series(Base):
    """One named time series (a sensor, a stock, a metric)."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="sensor")
    unit: Mapped[str | None] = mapped_column(String(64))
    frequency: Mapped[str | None] = mapped_column(String(32))
    # A time on the series' grid, fixing its phase (5-minute points at :01, :06, … have one).
    grid_origin: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Observation(Base):
    """One observed value of a series at a UTC time."""

    __tablename__ = "observations"

    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    value: Mapped[float] = mapped_column(Double())


class ModelVersion(Base):
    """A trained model stored on disk, with the span it was trained on and its metrics."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("pipeline", "series_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(100))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    trained_from: Mapped[datetime] = mapped_column(UTCDateTime())
    trained_to: Mapped[datetime] = mapped_column(UTCDateTime())
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    artifact_path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Forecast(Base):
    """A forecast value for time `ts`, made from data up to `issued_at`."""

    __tablename__ = "forecasts"
    __table_args__ = (Index(None, "series_id", "ts"),)

    pipeline: Mapped[str] = mapped_column(String(100), primary_key=True)
    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    step: Mapped[int] = mapped_column(Integer)
    predicted: Mapped[float] = mapped_column(Double())
    # The value on the series' grid at `ts` once it is known (its raw points aggregated):
    # jittered raw times never equal the grid's, so compare forecasts with this column.
    observed: Mapped[float | None] = mapped_column(Double())
    lower: Mapped[float | None] = mapped_column(Double())
    upper: Mapped[float | None] = mapped_column(Double())
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PipelineRun(Base):
    """One execution of a pipeline job (detect, train, forecast, backfill) with its counts."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (Index(None, "pipeline", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="running")
    series_count: Mapped[int] = mapped_column(Integer, default=0)
    series_failed: Mapped[int] = mapped_column(Integer, default=0)
    points_read: Mapped[int] = mapped_column(Integer, default=0)
    anomalies_written: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(200))
    # Daemon cycles: the scheduled fire time and the replica (host:pid) that ran the cycle.
    cycle_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replica: Mapped[str | None] = mapped_column(String(200))
    # Every failed series' error, {series name: message}; `error` is the readable summary.
    series_errors: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Why the run left a series unscored although it is fine (waiting for history, constant).
    series_notes: Mapped[dict[str, str] | None] = mapped_column(JSON)


class Anomaly(Base):
    """One anomalous point: what was seen, what was expected, and how unusual it was."""

    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint("pipeline", "series_id", "ts"),
        CheckConstraint("score >= 0 AND score <= 1", name="score_range"),
        Index(None, "series_id", "ts"),
        Index(None, "score"),
        Index(None, "ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(100))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    observed: Mapped[float] = mapped_column(Double())
    predicted: Mapped[float] = mapped_column(Double())
    residual: Mapped[float] = mapped_column(Double())
    threshold: Mapped[float] = mapped_column(Double())
    score: Mapped[float] = mapped_column(Double())
    severity: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8))
    # Which rule reported the point: forecast, extreme, stuck, range, shift or flat_start (NULL:
    # older rows).
    rule: Mapped[str | None] = mapped_column(String(16))
    # Every rule that flagged the point, comma-separated (e.g. "forecast,range"; NULL: older
    # rows).
    signals: Mapped[str | None] = mapped_column(String(64))
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_runs.id", ondelete="SET NULL"))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AnomalyEvent(Base):
    """Consecutive anomalous points of one series grouped into one incident."""

    __tablename__ = "anomaly_events"
    __table_args__ = (
        UniqueConstraint("pipeline", "series_id", "start_ts"),
        Index(None, "start_ts"),
        Index(None, "series_id", "start_ts"),
        Index(None, "peak_score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(100))
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    start_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    end_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    peak_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    peak_score: Mapped[float] = mapped_column(Double())
    n_points: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(8))
    severity: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Watermark(Base):
    """How far a pipeline has processed a series: every point up to `last_ts` is scored."""

    __tablename__ = "watermarks"

    pipeline: Mapped[str] = mapped_column(String(100), primary_key=True)
    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )
    last_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Points from here on changed or arrived late behind `last_ts`: re-score them (None: none).
    rescore_from: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SeriesLease(Base):
    """Which daemon replica works on a series, until when, and which cycles already did it.

    A replica claims a series for a job only when no live lease exists and the job's last
    cycle is older than the current one: each series is processed once per cycle, and a
    replica that dies releases its series when its lease expires.
    """

    __tablename__ = "series_leases"

    pipeline: Mapped[str] = mapped_column(String(100), primary_key=True)
    series_id: Mapped[int] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detect_cycle: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retrain_cycle: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationOutbox(Base):
    """A notification of an event to one sink, written with the event and kept once sent.

    A row is pending until a receiver acknowledged it (2xx): `delivered_at` is then set, and
    until then each failed attempt counts in `attempts` and pushes `next_attempt_at` back.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint("kind IN ('open', 'close')", name="kind"),
        Index(None, "delivered_at", "next_attempt_at"),
        Index(None, "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL once the event is deleted (redetect, a correction): what was queued is still sent.
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("anomaly_events.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(8))
    sink: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)  # the request body, JSON
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


ALL_TABLES = [t.name for t in Base.metadata.sorted_tables]
