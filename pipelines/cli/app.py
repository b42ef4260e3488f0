"""The typer apps, consoles, option types and helpers that every `forecaster` command shares."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from forecaster.errors import ForecasterError
from pipelines.ops.json_logs import LogFormat

# Heavy modules (pandas, SQLAlchemy, Alembic, TensorFlow) are imported inside the commands
# that need them, so `forecaster --help` and typos answer at once.
if TYPE_CHECKING:
    from forecaster.config.executor import ExecutorSettings
    from forecaster.config.settings import Settings
    from pipelines.context import AppContext


app = typer.Typer(
    name="forecaster",
    help="Time-series anomaly detection and forecasting: RNN forecasts, anomalies in SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Create and migrate the database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# Piped or redirected output gets room for the full tables instead of 80 columns.
out = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160)
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $FORECASTER_CONFIG, else ./config.yaml).",
        show_default=False,
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logging.")]
LogFormatOption = Annotated[
    LogFormat, typer.Option("--log-format", help="Log lines as text or one JSON object per line.")
]
PipelineOption = Annotated[
    str | None,
    typer.Option("--pipeline", "-p", help="Pipeline name from the config (default: the first)."),
]
SeriesOption = Annotated[str, typer.Option("--series", "-s", help="Series name.")]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        min=1,
        max=256,
        help="Process this many series at once in worker processes (default: executor.workers "
        "from the config, 1).",
        show_default=False,
    ),
]
DaskOption = Annotated[
    str | None,
    typer.Option(
        "--dask",
        help="Run the series on the Dask cluster whose scheduler is at this address "
        "(tcp://host:8786; needs the dask extra).",
        show_default=False,
    ),
]


def settings_from(config: Path | None, verbose: bool) -> Settings:
    """Set up logging for `verbose` and load the config file (or the default one)."""
    from forecaster.config.loading import load_config

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return load_config(config)


def open_app_context(
    config: Path | None, verbose: bool, *, require_schema: bool = True, models: bool = False
) -> AppContext:
    """The config's settings with an open database; the caller closes it. With `models`
    (commands that may train), the model store must be writable before any work starts."""
    from pipelines.cli.paths import check_model_dir
    from pipelines.context import open_context

    settings = settings_from(config, verbose)
    if models:
        check_model_dir(settings.model_dir)
        if settings.model_store is not None:
            from forecaster.model.remote import open_filesystem

            open_filesystem(settings.model_store)  # fsspec and the storage's package are there
    return open_context(settings, require_schema=require_schema, verbose=verbose)


def parse_time(value: str | None, option: str) -> datetime | None:
    """A user-given time as an aware UTC datetime; times without an offset are UTC."""
    if value is None:
        return None
    import pandas as pd

    from forecaster.messages import quoted

    try:
        ts = pd.Timestamp(value)
    except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        raise ForecasterError(f"{option}: cannot read {quoted(value)} as a time") from None
    if ts is pd.NaT:
        raise ForecasterError(f"{option}: cannot read {quoted(value)} as a time")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def parse_range(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """`--start` and `--end` as UTC datetimes; an error when the start is after the end."""
    start_ts, end_ts = parse_time(start, "--start"), parse_time(end, "--end")
    if start_ts is not None and end_ts is not None and start_ts > end_ts:
        raise ForecasterError(
            f"--start {start_ts.isoformat()} is later than --end {end_ts.isoformat()}: "
            "nothing to do"
        )
    return start_ts, end_ts


def progress_bars() -> Progress:
    """Progress bars on stderr that vanish when done, so stdout keeps only the results."""
    return Progress(
        TextColumn("{task.description}", markup=False),  # series names print as they are
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def series_task(
    progress: Progress, name: str, pending: int
) -> Callable[[int, datetime | None], None]:
    """A progress bar for one series; returns the callback that advances it by points done."""
    task = progress.add_task(name, total=max(pending, 1))

    def advance(points: int, _last: datetime | None) -> None:
        progress.advance(task, points)

    return advance


def executor_from(
    settings: ExecutorSettings, workers: int | None, dask: str | None
) -> ExecutorSettings:
    """The config's executor with the command line's --workers and --dask on top."""
    from pydantic import ValidationError

    from forecaster.config.executor import ExecutorSettings

    update = settings.model_dump()
    if workers is not None:
        update["workers"] = workers
    if dask is not None:
        update["dask"] = dask
    try:
        return ExecutorSettings.model_validate(update)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ForecasterError(f"--dask: {problem}") from None
