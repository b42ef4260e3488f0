"""`forecaster ingest` and `forecaster series`: load observations and list the stored series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forecaster.errors import ForecasterError
from forecaster.messages import quoted
from forecaster.vocabulary import DUPLICATE_POLICIES, SERIES_KINDS
from pipelines.cli.app import (
    ConfigOption,
    VerboseOption,
    app,
    open_app_context,
    out,
    progress_bars,
)
from pipelines.cli.render import ingest_lines, series_table

# The ingest options as named types, so the command's signature reads as a list of options.
FileArgument = Annotated[
    Path, typer.Argument(help="CSV or Parquet file with a time and a value column.")
]
IngestSeriesOption = Annotated[
    str, typer.Option("--series", "-s", help="Series name to load into.")
]
KindOption = Annotated[
    str | None,
    typer.Option(help=f"Kind of a new series: {', '.join(SERIES_KINDS)} (default sensor)."),
]
UnitOption = Annotated[str | None, typer.Option(help="Unit of the values, e.g. degC.")]
FrequencyOption = Annotated[
    str | None,
    typer.Option(help="Sampling interval (pandas alias: 5min, h, D, B); inferred if absent."),
]
TimeColumnOption = Annotated[
    str | None, typer.Option(help="Time column (default: timestamp/time/ts/datetime/date).")
]
ValueColumnOption = Annotated[
    str | None, typer.Option(help="Value column (default: 'value' or the only other column).")
]
TimezoneOption = Annotated[str, typer.Option(help="Zone of timestamps that carry no offset.")]
DayFirstOption = Annotated[
    bool | None,
    typer.Option(
        "--dayfirst/--monthfirst",
        help="Dates like 01/02/2020: day first (1 February) or month first (2 January). "
        "Default: what the file shows (a date like 13/02 or 02/13), else an error.",
        show_default=False,
    ),
]
TimeFormatOption = Annotated[
    str | None,
    typer.Option(
        "--time-format",
        metavar="FORMAT",
        help="strptime format of every time, e.g. '%d/%m/%Y %H:%M' (default: ISO 8601, else "
        "inferred once for the whole file).",
    ),
]
SkipBadRowsOption = Annotated[
    bool, typer.Option(help="Load the good rows and report the unparseable ones.")
]
OnDuplicateOption = Annotated[
    str,
    typer.Option(help="Repeated timestamps in the file: keep the last or first row, or error."),
]


@app.command("ingest")
def ingest(
    file: FileArgument,
    series: IngestSeriesOption,
    kind: KindOption = None,
    unit: UnitOption = None,
    frequency: FrequencyOption = None,
    time_column: TimeColumnOption = None,
    value_column: ValueColumnOption = None,
    timezone: TimezoneOption = "UTC",
    dayfirst: DayFirstOption = None,
    time_format: TimeFormatOption = None,
    skip_bad_rows: SkipBadRowsOption = False,
    on_duplicate: OnDuplicateOption = "last",
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Load a file into the observations table (idempotent: reloading changes nothing)."""
    from forecaster.io.files import ReadOptions
    from pipelines.jobs.ingest import IngestRequest, ingest_file

    _check_ingest_options(series, kind, frequency, on_duplicate)
    if dayfirst is not None and time_format is not None:
        raise ForecasterError("give --time-format or --dayfirst/--monthfirst, not both")
    read = ReadOptions(
        time_column=time_column,
        value_column=value_column,
        timezone=timezone,
        time_format=time_format,
        dayfirst=dayfirst,
        skip_bad_rows=skip_bad_rows,
        on_duplicate=on_duplicate,  # type: ignore[arg-type]
    )
    request = IngestRequest(
        path=file, series=series, kind=kind, unit=unit, frequency=frequency, read=read
    )
    context = open_app_context(config, verbose)
    try:
        with progress_bars() as progress:
            task = progress.add_task(f"ingest {file.name}", total=None)  # shown as it is
            report = ingest_file(
                context,
                request,
                lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        context.close()
    for line in ingest_lines(report, on_duplicate):
        out.print(line)


def _check_ingest_options(
    series: str, kind: str | None, frequency: str | None, on_duplicate: str
) -> None:
    """The options a file's rows do not affect, checked before the file is read."""
    from forecaster.config.validators import check_frequency, series_name_problem

    problem = series_name_problem(series)
    if problem is not None:
        raise ForecasterError(f"--series: {problem}")
    if kind is not None and kind not in SERIES_KINDS:
        raise ForecasterError(
            f"--kind must be one of {', '.join(SERIES_KINDS)}, not {quoted(kind)}"
        )
    if on_duplicate not in DUPLICATE_POLICIES:
        raise ForecasterError(
            f"--on-duplicate must be error, first or last, not {quoted(on_duplicate)}"
        )
    if frequency is not None:
        try:
            check_frequency(frequency, "--frequency")
        except ValueError as exc:
            raise ForecasterError(str(exc)) from None


@app.command("series")
def list_series(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """List the series in the database with their point counts and spans."""
    from forecaster.db.repo.series import list_series

    context = open_app_context(config, verbose)
    try:
        with context.sessions() as session:
            summaries = list_series(session=session)
    finally:
        context.close()
    out.print(series_table(summaries))
