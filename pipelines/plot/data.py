"""Read-only queries behind `forecaster plot` and the demo summary: one series' observations,
stored forecasts, anomalies and events in a time range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forecaster.db.repo.observations import read_observations
from forecaster.db.repo.series import get_series
from forecaster.db.tables import Anomaly, AnomalyEvent, Forecast
from forecaster.db.time_range import TimeRange

PREDICTION_COLUMNS = ["ts", "predicted", "lower", "upper"]
ANOMALY_COLUMNS = ["ts", "observed", "predicted", "score", "severity", "direction"]
EVENT_COLUMNS = ["start_ts", "end_ts", "peak_ts", "peak_score", "n_points", "direction", "severity"]


@dataclass(frozen=True)
class PlotData:
    """What a pipeline knows about one series in a time range, as pandas objects (UTC)."""

    series: str
    pipeline: str
    frequency: str | None
    unit: str | None
    observed: pd.Series  # value by ts
    predictions: pd.DataFrame  # the stored one-step predictions: ts, predicted, lower, upper
    forecast: pd.DataFrame  # the latest forecast (every step): ts, predicted, lower, upper
    forecast_issued_at: pd.Timestamp | None
    anomalies: pd.DataFrame  # ANOMALY_COLUMNS
    events: pd.DataFrame  # EVENT_COLUMNS, by start_ts

    def top_events(self, limit: int) -> pd.DataFrame:
        """The `limit` events with the highest peak score."""
        return self.events.sort_values("peak_score", ascending=False, kind="stable").head(limit)


def load_plot_data(
    *, session: Session, pipeline: str, name: str, time_range: TimeRange = TimeRange()
) -> PlotData:
    """Everything stored for series `name` in `time_range`; SeriesNotFound for an unknown name.

    Events are those overlapping the range; the latest forecast is the one with the newest
    `issued_at` (its steps may lie after the range's end).
    """
    series = get_series(session=session, name=name)
    observed = read_observations(session=session, series_id=series.id, time_range=time_range)
    predictions = _predictions(session, pipeline, series.id, time_range)
    forecast, issued_at = _latest_forecast(session, pipeline, series.id)
    anomalies = _anomalies(session, pipeline, series.id, time_range)
    events = _events(session, pipeline, series.id, time_range)
    return PlotData(
        series=name,
        pipeline=pipeline,
        frequency=series.frequency,
        unit=series.unit,
        observed=observed,
        predictions=predictions,
        forecast=forecast,
        forecast_issued_at=issued_at,
        anomalies=anomalies,
        events=events,
    )


def _predictions(
    session: Session, pipeline: str, series_id: int, time_range: TimeRange
) -> pd.DataFrame:
    """The stored one-step predictions of the series in `time_range`, by ts."""
    statement = (
        select(Forecast.ts, Forecast.predicted, Forecast.lower, Forecast.upper)
        .where(Forecast.pipeline == pipeline, Forecast.series_id == series_id, Forecast.step == 1)
        .order_by(Forecast.ts)
    )
    return _frame(session, time_range.filter(statement, Forecast.ts), PREDICTION_COLUMNS)


def _latest_forecast(
    session: Session, pipeline: str, series_id: int
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """Every step of the forecast with the newest `issued_at`, and that `issued_at` (None when
    the series has no forecast)."""
    of_series = (Forecast.pipeline == pipeline, Forecast.series_id == series_id)
    issued_at = session.scalar(select(func.max(Forecast.issued_at)).where(*of_series))
    statement = (
        select(Forecast.ts, Forecast.predicted, Forecast.lower, Forecast.upper)
        .where(*of_series, Forecast.issued_at == issued_at)
        .order_by(Forecast.step)
    )
    frame = _frame(session, statement, PREDICTION_COLUMNS)
    return frame, None if issued_at is None else pd.Timestamp(issued_at)


def _anomalies(
    session: Session, pipeline: str, series_id: int, time_range: TimeRange
) -> pd.DataFrame:
    """The series' anomalies in `time_range`, by ts."""
    statement = (
        select(*(getattr(Anomaly, c) for c in ANOMALY_COLUMNS))
        .where(Anomaly.pipeline == pipeline, Anomaly.series_id == series_id)
        .order_by(Anomaly.ts)
    )
    return _frame(session, time_range.filter(statement, Anomaly.ts), ANOMALY_COLUMNS)


def _events(session: Session, pipeline: str, series_id: int, time_range: TimeRange) -> pd.DataFrame:
    """The series' anomaly events that overlap `time_range`, by start_ts."""
    statement = select(*(getattr(AnomalyEvent, c) for c in EVENT_COLUMNS)).where(
        AnomalyEvent.pipeline == pipeline, AnomalyEvent.series_id == series_id
    )
    # An event overlaps the range when it ends at or after its start and starts by its end.
    if time_range.start is not None:
        statement = statement.where(AnomalyEvent.end_ts >= time_range.start)
    if time_range.end is not None:
        statement = statement.where(AnomalyEvent.start_ts <= time_range.end)
    return _frame(session, statement.order_by(AnomalyEvent.start_ts), EVENT_COLUMNS)


def _frame(session: Session, statement: Any, columns: list[str]) -> pd.DataFrame:
    """A query's rows as a DataFrame; columns ending in `ts` as UTC timestamps."""
    frame = pd.DataFrame(session.execute(statement).all(), columns=columns)
    for column in columns:
        if column == "ts" or column.endswith("_ts"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
