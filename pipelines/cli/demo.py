"""`forecaster demo` and `forecaster demo-feed`: the self-contained tour and its live producer."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress

from pipelines.cli.app import VerboseOption, app, out, progress_bars, series_task
from pipelines.cli.render import demo_missed, demo_table

if TYPE_CHECKING:
    from pipelines.demo.feed import Tick
    from pipelines.demo.tour import DemoResult


@app.command("demo")
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Directory to work in (created if needed).")
    ] = Path("."),
    quick: Annotated[
        bool, typer.Option("--quick", help="Less data and training: about a minute (for tests).")
    ] = False,
    verbose: VerboseOption = False,
) -> None:
    """A tour with no server and no network: writes config.yaml and forecaster.db in --dir,
    loads sample series (synthetic sensors with injected anomalies, and the real VIX), trains,
    backfills, forecasts, draws one PNG per series and prints what was found.

    Each run starts fresh: it replaces the files an earlier demo wrote in the directory, and
    refuses a directory whose config.yaml or forecaster.db the demo did not write.
    """
    from pipelines.demo.tour import run_demo

    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    with progress_bars() as progress:
        result = run_demo(directory, quick=quick, progress=_DemoBars(progress))
    _print_demo(result)
    if result.run.failed:
        raise typer.Exit(1)


@app.command("demo-feed")
def demo_feed(
    directory: Annotated[
        Path, typer.Option("--dir", help="The directory `forecaster demo` ran in.")
    ] = Path("demo"),
    every: Annotated[
        str, typer.Option("--every", help="Time between new points (e.g. 10s, 1min).")
    ] = "10s",
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after this many points per sensor.")
    ] = None,
    spike_every: Annotated[
        int, typer.Option("--spike-every", min=0, help="A spike every N points (0: none).")
    ] = 12,
) -> None:
    """Append the next hourly point to each demo sensor every --every, as a live producer
    would, until Ctrl-C (or --count). Run `forecaster daemon -c DIR/config.yaml` beside it
    and watch `forecaster status -c DIR/config.yaml`: the daemon scores each new point."""
    import signal
    import threading

    import pandas as pd

    from pipelines.demo.feed import run_feed

    try:
        interval = pd.Timedelta(every)
    except ValueError:
        raise typer.BadParameter(f"{every!r} is not a duration", param_hint="--every") from None
    if interval <= pd.Timedelta(0):
        raise typer.BadParameter("must be positive", param_hint="--every")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    done = run_feed(
        directory, every=interval, count=count, spike_every=spike_every, stop=stop, on_tick=_show
    )
    out.print(f"{done} point(s) per sensor appended")


def _show(tick: Tick) -> None:
    """One line per feed tick: the time of the new points and which sensor got a spike."""
    at = next(iter(tick.points.values()))[0]
    spike = f" (a spike in {tick.spiked})" if tick.spiked else ""
    out.print(f"{at:%Y-%m-%d %H:%M} UTC: {len(tick.points)} new points{spike}")


class _DemoBars:
    """The demo's stages and series as rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def stage(self, description: str, total: int) -> Callable[[int], None]:
        task = self.progress.add_task(description, total=total)
        return lambda count: self.progress.advance(task, count)

    def series(self, name: str, pending: int) -> Callable[[int, datetime | None], None]:
        return series_task(self.progress, f"backfill {name}", pending)


def _print_demo(result: DemoResult) -> None:
    """The summary table, how labels count as found, the misses and where the plots are."""
    from pipelines.demo.tour import FOUND_TOLERANCE_STEPS

    out.print(demo_table(result))
    out.print(
        f"A labelled anomaly is found when an anomaly event overlaps it (within "
        f"{FOUND_TOLERANCE_STEPS} steps). The\n"
        "sensor series are synthetic with injected anomalies; vix is the real CBOE volatility\n"
        "index, labelled with well-known market shocks (it has other big moves too)."
    )
    missed = demo_missed(result)
    if missed:
        out.print("Not found:\n  " + "\n  ".join(missed), highlight=False)
    out.print(
        f"\nPlots: {result.output_dir}/<series>.png, all on {result.output_dir}/index.html",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    _print_next_steps(result)


def _print_next_steps(result: DemoResult) -> None:
    """Ready-to-paste sqlite3 queries and the commands that continue the tour."""
    from pipelines.demo.tour import CONFIG_FILE, shell_command

    out.print("\nQuery the results (sqlite3 command-line tool):")
    for what, sql in result.queries:
        out.print(f"# {what}", highlight=False)
        out.print(shell_command(result.db_path, sql), highlight=False, markup=False, soft_wrap=True)
    config = shlex.quote(str(result.directory / CONFIG_FILE))
    directory = shlex.quote(str(result.directory))
    out.print(
        f"\nContinue with: forecaster status -c {config}\n"
        f"               forecaster plot -c {config} --series vix --start 2020-01-01 "
        "--out vix-2020.png\n"
        f"Watch it live: forecaster daemon -c {config}   (and in another terminal)\n"
        f"               forecaster demo-feed --dir {directory}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
