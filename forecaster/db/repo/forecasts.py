"""The `forecasts` table: forecast rows and stored one-step predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.db.repo.observations import points_from_rows, raw_time, read_point_rows
from forecaster.db.repo.upsert import Columns, columns_of, upsert_columns
from forecaster.db.tables import (
    Forecast,
)
from forecaster.db.time_range import TimeRange


@dataclass(frozen=True)
class ForecastRow:
    """One forecast value to store."""

    issued_at: datetime
    ts: datetime
    step: int
    predicted: float
    lower: float | None
    upper: float | None
    observed: float | None = None  # the regular value at `ts`, when it is known


def upsert_forecasts(
    *,
    session: Session,
    pipeline: str,
    series_id: int,
    model_version_id: int | None,
    rows: Sequence[ForecastRow],
    now: datetime,
) -> int:
    """Insert or replace forecasts keyed by (pipeline, series, issued_at, ts); returns the count."""
    payload = forecast_payload(
        pipeline=pipeline, series_id=series_id, model_version_id=model_version_id, rows=rows
    )
    return upsert_forecast_rows(session=session, rows=payload, now=now)


def upsert_forecast_rows(*, session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> int:
    """`upsert_forecasts` of rows already in column form (several series in one statement);
    `now` is their `created_at` when they are new."""
    if not rows:
        return 0
    return upsert_forecast_columns(session=session, blocks=[columns_of(rows)], now=now)


def upsert_forecast_columns(*, session: Session, blocks: Sequence[Columns], now: datetime) -> int:
    """`upsert_forecast_rows` of blocks of columns (forecast_payload's names), e.g. one per
    series and step, all in one bulk write."""
    keys = ("pipeline", "series_id", "issued_at", "ts")
    stamped = [{**block, "created_at": now} for block in blocks]
    return upsert_columns(session, Forecast.__table__, keys, stamped)


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
            "observed": r.observed,
            "lower": r.lower,
            "upper": r.upper,
            "model_version_id": model_version_id,
        }
        for r in rows
    ]


def read_one_step_predictions(
    *, session: Session, pipeline: str, series_id: int, time_range: TimeRange
) -> pd.Series:
    """Stored one-step-ahead predictions (step 1 forecasts) by target time."""
    table = Forecast.__table__.c
    statement = select(raw_time(table.ts), table.predicted).where(
        table.pipeline == pipeline, table.series_id == series_id, table.step == 1
    )
    return read_point_rows(session, time_range.filter(statement, table.ts).order_by(table.ts))


def read_prediction_models(
    *, session: Session, pipeline: str, series_id: int, time_range: TimeRange
) -> pd.Series:
    """The model_versions id of each stored one-step prediction, by target time (NaN where
    the model row is gone)."""
    table = Forecast.__table__.c
    statement = select(raw_time(table.ts), table.model_version_id).where(
        table.pipeline == pipeline, table.series_id == series_id, table.step == 1
    )
    rows = session.connection().execute(time_range.filter(statement, table.ts).order_by(table.ts))
    return points_from_rows([(ts, np.nan if v is None else v) for ts, v in rows])


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
