"""Forecast the next values of one series with its current model and store them."""

from __future__ import annotations

from dataclasses import dataclass

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.forecasts import upsert_forecasts
from forecaster.db.session import transaction
from forecaster.errors import SeriesTooShort
from forecaster.model.predict import Forecast, forecast_next
from pipelines.context import AppContext
from pipelines.detect.rows import forecast_rows
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


def _store(
    context: AppContext,
    pipeline: PipelineSettings,
    series_id: int,
    active: ActiveModel,
    forecast: Forecast,
) -> int:
    """Upsert a forecast's rows; returns how many."""
    with transaction(context.sessions) as session:
        return upsert_forecasts(
            session=session,
            pipeline=pipeline.name,
            series_id=series_id,
            model_version_id=active.version_id,
            rows=forecast_rows(forecast),
            now=context.clock(),
        )
