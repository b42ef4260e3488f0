"""Forecast the next values of one series with its current model and store them."""

from __future__ import annotations

from dataclasses import dataclass

from forecaster.db import repository
from forecaster.db.repository import ForecastRow
from forecaster.db.session import transaction
from forecaster.errors import SeriesTooShort
from forecaster.predictor import Forecast, forecast_next
from pipelines.context import AppContext
from pipelines.models import ActiveModel
from pipelines.train import current_model, load_series


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
    network = context.models.network_for(active.model.settings)
    forecast = forecast_next(active.model, network, series.data)
    if forecast is None:
        raise SeriesTooShort(
            f"series {name!r}: its last segment has fewer than {active.model.settings.window} "
            "points after a long gap, too few to forecast from"
        )
    rows = [
        ForecastRow(
            issued_at=forecast.issued_at.to_pydatetime(),
            ts=ts.to_pydatetime(),
            step=step,
            predicted=float(p),
            lower=float(lo),
            upper=float(hi),
        )
        for step, (ts, p, lo, hi) in enumerate(
            zip(forecast.index, forecast.predicted, forecast.lower, forecast.upper, strict=True),
            start=1,
        )
    ]
    with transaction(context.sessions) as session:
        written = repository.upsert_forecasts(
            session=session,
            pipeline=pipeline.name,
            series_id=series.series_id,
            model_version_id=active.version_id,
            rows=rows,
        )
    return ForecastReport(series=name, forecast=forecast, model=active, rows_written=written)
