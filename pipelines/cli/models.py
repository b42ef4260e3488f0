"""`forecaster train` and `forecaster forecast`: fit a model version, forecast with the newest."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli.app import (
    ConfigOption,
    PipelineOption,
    SeriesOption,
    VerboseOption,
    app,
    err,
    open_app_context,
    out,
    parse_time,
)
from pipelines.cli.render import forecast_table, literal, train_summary


@app.command("train")
def train(
    series: SeriesOption,
    pipeline: PipelineOption = None,
    until: Annotated[
        str | None,
        typer.Option(help="Train on points up to this time (ISO 8601; UTC without an offset)."),
    ] = None,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Train a new model version for a series and store it (model_dir and model_versions)."""
    from pipelines.jobs.train import train_series

    until_ts = parse_time(until, "--until")
    context = open_app_context(config, verbose, models=True)
    try:
        with err.status(f"training {literal(series)} ..."):
            active = train_series(context, pipeline, series, until=until_ts)
    finally:
        context.close()
    out.print(train_summary(series, active))


@app.command("forecast")
def forecast(
    series: SeriesOption,
    pipeline: PipelineOption = None,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Forecast the next values of a series with a band, store them in `forecasts` and print them.

    Uses the newest model; trains one first when none is stored or it is unusable.
    """
    from pipelines.jobs.forecast import forecast_series

    context = open_app_context(config, verbose, models=True)
    try:
        with err.status(f"forecasting {literal(series)} ..."):
            report = forecast_series(context, pipeline, series)
    finally:
        context.close()
    if report.model.trained_now:
        out.print(
            f"trained version {report.model.version} first: {report.model.reason}", markup=False
        )
    out.print(forecast_table(series, report))
    out.print(f"{report.rows_written} row(s) written to forecasts")
