"""`forecaster ingest` and `forecaster series`: load observations and list the stored series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forecaster.errors import ForecasterError
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
    skip_bad_rows: SkipBadRowsOption = False,
    on_duplicate: OnDuplicateOption = "last",
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Load a file into the observations table (idempotent: reloading changes nothing)."""
    from forecaster.io.files import ReadOptions
    from pipelines.jobs.ingest import IngestRequest, ingest_file

    if kind is not None and kind not in SERIES_KINDS:
        raise ForecasterError(f"--kind must be one of {', '.join(SERIES_KINDS)}, not {kind!r}")
    if on_duplicate not in DUPLICATE_POLICIES:
        raise ForecasterError(f"--on-duplicate must be error, first or last, not {on_duplicate!r}")
    read = ReadOptions(
        time_column=time_column,
        value_column=value_column,
        timezone=timezone,
        skip_bad_rows=skip_bad_rows,
        on_duplicate=on_duplicate,  # type: ignore[arg-type]
    )
    request = IngestRequest(
        path=file, series=series, kind=kind, unit=unit, frequency=frequency, read=read
    )
    context = open_app_context(config, verbose)
    try:
        with progress_bars() as progress:
            task = progress.add_task(f"ingest {file.name}", total=None)
            report = ingest_file(
                context,
                request,
                lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        context.close()
    for line in ingest_lines(report, on_duplicate):
        out.print(line)


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
