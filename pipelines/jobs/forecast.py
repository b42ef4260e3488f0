"""Forecast the next values of one series with its current model and store them."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.forecasts import upsert_forecasts
from forecaster.db.session import transaction
from forecaster.db.time_range import TimeRange
from forecaster.errors import SeriesTooShort
from forecaster.model.predict import Forecast, forecast_next
from forecaster.series.regular import RegularSeries, regularize
from pipelines.context import AppContext
from pipelines.detect.run import (
    cutoff_for,
    forecast_rows,
    model_for_cutoff,
    network_reach,
    series_state,
)
from pipelines.jobs.train import current_model, load_series
from pipelines.model_runtime import ActiveModel


@dataclass(frozen=True)
class ForecastReport:
    """The forecast written for a series and the model that made it."""

    series: str
    forecast: Forecast
    model: ActiveModel
    rows_written: int


def forecast_series(context: AppContext, pipeline_name: str | None, name: str) -> ForecastReport:
    """Forecast `horizon` steps after the series' last point and upsert them into `forecasts`."""
    pipeline = context.settings.pipeline(pipeline_name)
    with transaction(context.sessions) as session:
        series = load_series(context, session, pipeline, name)
    active = current_model(context, pipeline, series)
    forecast = forecast_next(active.model, series.data)
    if forecast is None:
        raise SeriesTooShort(
            f"series {name!r}: its last segment has fewer than {active.model.settings.window} "
            "points after a long gap, too few to forecast from"
        )
    written = _store(context, pipeline, series.series_id, active, forecast)
    return ForecastReport(series=name, forecast=forecast, model=active, rows_written=written)


def refresh_forecast(
    context: AppContext,
    pipeline: PipelineSettings,
    name: str,
    tail: RegularSeries | None = None,
) -> int:
    """Forecast the steps after the series' watermark with the walk-forward model that will
    score them (the daemon's fresh forecasts). `tail`: the span the detection step just
    processed, ending at the watermark; else the tail the network needs is read.

    Returns the rows written: 0 before the first model, or when the last segment is too short.
    """
    with transaction(context.sessions) as session:
        state = series_state(session, pipeline, name)
        if not state.scored:
            return 0
        assert state.watermark is not None and state.frequency is not None
        mark, chain, frequency, series_id = (
            state.watermark, state.chain, state.frequency, state.series_id
        )  # fmt: skip
        if tail is None or tail.index[-1] != pd.Timestamp(mark):
            reach = network_reach(pipeline.model, frequency)
            offset = pd.tseries.frequencies.to_offset(frequency)
            start = (pd.Timestamp(mark) - reach * offset).to_pydatetime()
            source = context.source(pipeline.name)
            raw = source.read(session, name, TimeRange(start=start, end=mark))
            if raw.empty:
                return 0
            tail = regularize(raw.rename(name), frequency, pipeline.preprocess.max_gap_fill)
    span = tail
    cutoff, _ = cutoff_for(
        int(span.steps[-1]) + 1, chain[0], pipeline.training.retrain_every, chain
    )
    if cutoff is None:
        return 0
    active = model_for_cutoff(context, pipeline, name, series_id, cutoff=cutoff)
    forecast = forecast_next(active.model, span)
    if forecast is None:
        return 0
    return _store(context, pipeline, series_id, active, forecast)


def _store(
    context: AppContext,
    pipeline: PipelineSettings,
    series_id: int,
    active: ActiveModel,
    forecast: Forecast,
) -> int:
    with transaction(context.sessions) as session:
        return upsert_forecasts(
            session=session,
            pipeline=pipeline.name,
            series_id=series_id,
            model_version_id=active.version_id,
            rows=forecast_rows(forecast),
        )
