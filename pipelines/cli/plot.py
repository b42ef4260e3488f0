"""`forecaster plot`: draw a series to a PNG, or a pipeline's series to an HTML page of PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from forecaster.errors import ForecasterError
from pipelines.cli.app import (
    ConfigOption,
    PipelineOption,
    VerboseOption,
    app,
    open_app_context,
    out,
    parse_range,
)

# Annotations only: the plotting modules (matplotlib) load when a plot is drawn, so
# `forecaster plot --help` answers without them.
if TYPE_CHECKING:
    from forecaster.db.time_range import TimeRange
    from pipelines.context import AppContext


@app.command("plot")
def plot(
    series: Annotated[
        list[str] | None,
        typer.Option("--series", "-s", help="Series to draw (repeatable with --html)."),
    ] = None,
    pipeline: PipelineOption = None,
    start: Annotated[
        str | None, typer.Option(help="Draw from this time (ISO 8601, UTC default).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Draw up to this time.")] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="PNG file to write (one --series).")
    ] = None,
    html_dir: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Write DIR/index.html and one PNG per series (default: all of the pipeline).",
        ),
    ] = None,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Draw a series: observed values, stored one-step forecasts and the latest forecast with
    their bands, anomalies as dots, events shaded."""
    from forecaster.db.time_range import TimeRange
    from pipelines.cli.paths import check_output_directory, check_output_file

    if (out_file is None) == (html_dir is None):
        raise ForecasterError("give --out FILE.png (one series) or --html DIR")
    if out_file is not None and len(series or []) != 1:
        raise ForecasterError("--out draws one series: give exactly one --series")
    if out_file is not None:
        check_output_file(out_file, "--out")
    if html_dir is not None:
        check_output_directory(html_dir, "--html")
    start_ts, end_ts = parse_range(start, end)
    time_range = TimeRange(start=start_ts, end=end_ts)
    context = open_app_context(config, verbose)
    try:
        if out_file is not None:
            assert series is not None
            _plot_png(context, pipeline, series[0], out_file, time_range)
        else:
            assert html_dir is not None
            _plot_html(context, pipeline, series or [], html_dir, time_range)
    finally:
        context.close()


def _plot_png(
    context: AppContext, pipeline: str | None, name: str, path: Path, time_range: TimeRange
) -> None:
    """Draw one series to `path` and say what the picture holds."""
    from pipelines.plot.render import plot_series

    data = plot_series(context, pipeline, name, path, time_range)
    out.print(
        f"{path}: {data.series}, {len(data.observed)} points, "
        f"{len(data.anomalies)} anomalous points in {len(data.events)} events",
        highlight=False,
        markup=False,
    )


def _plot_html(
    context: AppContext,
    pipeline: str | None,
    names: list[str],
    directory: Path,
    time_range: TimeRange,
) -> None:
    """Draw `names` (default: the pipeline's series) as PNGs under `directory`/index.html."""
    from forecaster.db.repo.series import get_series
    from pipelines.plot.render import plot_pages
    from pipelines.selection import select_series

    settings = context.settings.pipeline(pipeline)
    with context.sessions() as session:
        for name in names:
            get_series(session=session, name=name)  # an unknown name is an error, not a page
        chosen = names or select_series(context, session, settings, ())
    if not chosen:
        raise ForecasterError(f"pipeline {settings.name!r} has no series to draw")
    pages = plot_pages(context, settings.name, chosen, directory, time_range)
    for page in pages:
        drawn = page.png if page.png is not None else "no observations in the range"
        out.print(f"{page.data.series}: {drawn}", highlight=False, markup=False)
    out.print(f"{directory / 'index.html'}: {len(pages)} series", highlight=False, markup=False)
