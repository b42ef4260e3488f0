"""The `forecaster` command line (typer); heavy libraries load only in commands that use them."""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from forecaster.errors import ForecasterError
from forecaster.vocabulary import DUPLICATE_POLICIES, MAX_EXAMPLES, SERIES_KINDS

# Heavy modules (pandas, SQLAlchemy, Alembic, TensorFlow) are imported inside the commands
# that need them, so `forecaster --help` and typos answer at once.
if TYPE_CHECKING:
    from forecaster.config.settings import Settings
    from forecaster.db.time_range import TimeRange
    from pipelines.context import AppContext
    from pipelines.demo.tour import DemoResult
    from pipelines.jobs.ingest import IngestReport


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


def _settings(config: Path | None, verbose: bool) -> Settings:
    from forecaster.config.loading import load_config

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return load_config(config)


def _context(config: Path | None, verbose: bool, *, require_schema: bool = True) -> AppContext:
    from pipelines.context import open_context

    return open_context(_settings(config, verbose), require_schema=require_schema, verbose=verbose)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Create or migrate the tables to the newest schema (safe to rerun)."""
    from forecaster.db import migrate
    from forecaster.db.session import check_connection, display_url, make_engine

    settings = _settings(config, verbose)
    engine = make_engine(settings.database)
    try:
        check_connection(engine)
        before = migrate.current_revision(engine)
        migrate.upgrade(engine, revision)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    where = display_url(settings.database.url)
    if before == after:
        out.print(f"{where}: already at revision {after}")
    else:
        out.print(f"{where}: upgraded {before or 'empty database'} -> {after}")


@db_app.command("current")
def db_current(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Show the database's schema revision and whether it is the newest."""
    from forecaster.db import migrate
    from forecaster.db.session import check_connection, display_url, make_engine

    settings = _settings(config, verbose)
    engine = make_engine(settings.database)
    try:
        check_connection(engine)
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind: newest is {head}"
    out.print(f"{display_url(settings.database.url)}: revision {current or 'none'} ({state})")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' drops every table.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Revert the schema to an older revision (may drop tables and their data)."""
    from forecaster.db import migrate
    from forecaster.db.session import check_connection, display_url, make_engine

    settings = _settings(config, verbose)
    if not yes:
        typer.confirm(
            f"Downgrade {display_url(settings.database.url)} to {revision}? Data may be lost",
            abort=True,
        )
    engine = make_engine(settings.database)
    try:
        check_connection(engine)
        migrate.downgrade(engine, revision)
        out.print(f"downgraded to {migrate.current_revision(engine) or 'base'}")
    finally:
        engine.dispose()


@app.command("ingest")
def ingest(
    file: Annotated[
        Path, typer.Argument(help="CSV or Parquet file with a time and a value column.")
    ],
    series: Annotated[str, typer.Option("--series", "-s", help="Series name to load into.")],
    kind: Annotated[
        str | None,
        typer.Option(help=f"Kind of a new series: {', '.join(SERIES_KINDS)} (default sensor)."),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Unit of the values, e.g. degC.")] = None,
    frequency: Annotated[
        str | None,
        typer.Option(help="Sampling interval (pandas alias: 5min, h, D, B); inferred if absent."),
    ] = None,
    time_column: Annotated[
        str | None, typer.Option(help="Time column (default: timestamp/time/ts/datetime/date).")
    ] = None,
    value_column: Annotated[
        str | None, typer.Option(help="Value column (default: 'value' or the only other column).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="Zone of timestamps that carry no offset.")] = "UTC",
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Load the good rows and report the unparseable ones.")
    ] = False,
    on_duplicate: Annotated[
        str,
        typer.Option(help="Repeated timestamps in the file: keep the last or first row, or error."),
    ] = "last",
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
    request = IngestRequest(
        path=file,
        series=series,
        kind=kind,
        unit=unit,
        frequency=frequency,
        read=ReadOptions(
            time_column=time_column,
            value_column=value_column,
            timezone=timezone,
            skip_bad_rows=skip_bad_rows,
            on_duplicate=on_duplicate,  # type: ignore[arg-type]
        ),
    )
    context = _context(config, verbose)
    try:
        with _progress() as progress:
            task = progress.add_task(f"ingest {file.name}", total=None)
            report = ingest_file(
                context,
                request,
                lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        context.close()
    _print_ingest_report(report, on_duplicate)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _series_task(
    progress: Progress, name: str, pending: int
) -> Callable[[int, datetime | None], None]:
    """A progress bar for one series; returns the callback that advances it by points done."""
    task = progress.add_task(name, total=max(pending, 1))

    def advance(points: int, _last: datetime | None) -> None:
        progress.advance(task, points)

    return advance


def _print_ingest_report(report: IngestReport, on_duplicate: str) -> None:
    parsed = report.file
    points = parsed.points
    action = "created" if report.created else "updated"
    out.print(
        f"{parsed.path}: {parsed.rows_read} row(s) read into series [bold]{report.series}[/] "
        f"({action}, kind {report.kind}, frequency {report.frequency or 'unknown'})"
    )
    out.print(
        f"  {report.counts.inserted} inserted, {report.counts.updated} updated, "
        f"{report.counts.unchanged} unchanged; span {points.index[0].isoformat()} .. "
        f"{points.index[-1].isoformat()}"
    )
    label = parsed.line_label
    if parsed.bad_rows:
        shown = ", ".join(f"{label} {p.line} ({p.reason})" for p in parsed.bad_rows[:MAX_EXAMPLES])
        out.print(f"  [yellow]skipped {len(parsed.bad_rows)} bad row(s)[/]: {shown}")
    if parsed.missing_value_lines:
        missing = parsed.missing_value_lines
        shown = ", ".join(map(str, missing[:MAX_EXAMPLES])) + (
            ", ..." if len(missing) > MAX_EXAMPLES else ""
        )
        out.print(
            f"  [yellow]{len(missing)} row(s) had no value[/] ({label}s {shown}): "
            "not stored, they are gaps"
        )
    if parsed.duplicates_dropped:
        out.print(
            f"  [yellow]{parsed.duplicates_dropped} row(s) repeated an earlier timestamp[/]: "
            f"kept the {on_duplicate} row of each (--on-duplicate to choose)"
        )
    if parsed.was_unsorted:
        out.print("  rows were not in time order; they were sorted")
    if report.kind_ignored:
        out.print(
            f"  note: series exists with kind {report.kind!r}; --kind {report.kind_ignored} ignored"
        )


@app.command("series")
def list_series(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """List the series in the database with their point counts and spans."""
    from forecaster.db.repo.series import list_series

    context = _context(config, verbose)
    try:
        with context.sessions() as session:
            summaries = list_series(session=session)
    finally:
        context.close()
    table = Table("series", "kind", "unit", "frequency", "points", "first", "last")
    for s in summaries:
        table.add_row(
            s.name,
            s.kind,
            s.unit or "",
            s.frequency or "",
            str(s.points),
            s.first_ts.isoformat() if s.first_ts else "",
            s.last_ts.isoformat() if s.last_ts else "",
        )
    out.print(table)


PipelineOption = Annotated[
    str | None,
    typer.Option("--pipeline", "-p", help="Pipeline name from the config (default: the first)."),
]
SeriesOption = Annotated[str, typer.Option("--series", "-s", help="Series name.")]


def _parse_time(value: str | None, option: str) -> datetime | None:
    """A user-given time as an aware UTC datetime; times without an offset are UTC."""
    if value is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except ValueError:
        raise ForecasterError(f"{option}: cannot read {value!r} as a time") from None
    if ts is pd.NaT:
        raise ForecasterError(f"{option}: cannot read {value!r} as a time")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


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

    until_ts = _parse_time(until, "--until")
    context = _context(config, verbose)
    try:
        with err.status(f"training {series} ..."):
            active = train_series(context, pipeline, series, until=until_ts)
    finally:
        context.close()
    m = active.model
    metrics = m.metrics
    out.print(
        f"series [bold]{series}[/]: version {active.version} stored in {active.path}\n"
        f"  trained on {metrics.get('points')} points, {m.trained_from.isoformat()} .. "
        f"{m.trained_to.isoformat()} (frequency {m.frequency}), {metrics.get('epochs')} epochs, "
        f"{metrics.get('fit_seconds')} s\n"
        f"  one-step error on the {metrics.get('band_from')} span: MAE {_num(metrics.get('mae'))}"
        f" (naive last-value MAE {_num(metrics.get('naive_mae'))}, series std "
        f"{_num(metrics.get('series_std'))})"
    )


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

    context = _context(config, verbose)
    try:
        with err.status(f"forecasting {series} ..."):
            report = forecast_series(context, pipeline, series)
    finally:
        context.close()
    f = report.forecast
    coverage = round(report.model.model.settings.band_coverage * 100)
    if report.model.trained_now:
        out.print(f"trained version {report.model.version} first: {report.model.reason}")
    table = Table(
        "step", "ts", "predicted", f"lower ({coverage}%)", f"upper ({coverage}%)",
        title=f"{series}: forecast issued at {f.issued_at.isoformat()} "
        f"by model version {report.model.version}",
    )  # fmt: skip
    for step, (ts, p, lo, hi) in enumerate(
        zip(f.index, f.predicted, f.lower, f.upper, strict=True), start=1
    ):
        table.add_row(str(step), ts.isoformat(), _num(p), _num(lo), _num(hi))
    out.print(table)
    out.print(f"{report.rows_written} row(s) written to forecasts")


def _num(value: object) -> str:
    if isinstance(value, int | float):
        return f"{value:.6g}"
    return "n/a"


@app.command("backfill")
def backfill(
    series: Annotated[
        list[str] | None,
        typer.Option(
            "--series", "-s", help="Series to replay (repeatable; default: all of the pipeline)."
        ),
    ] = None,
    pipeline: PipelineOption = None,
    start: Annotated[
        str | None, typer.Option(help="Skip points before this time (ISO 8601, UTC default).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Replay points up to this time.")] = None,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Replay history exactly as the daemon would have processed it; resumable and idempotent.

    Trains once enough history exists, retrains walk-forward, scores every point with the model
    of its time, and commits each chunk's rows with the watermark. Rerunning continues where the
    last run stopped; a finished backfill changes nothing.
    """
    from pipelines.jobs.backfill import run_pipeline

    start_ts, end_ts = _parse_time(start, "--start"), _parse_time(end, "--end")
    context = _context(config, verbose)
    try:
        with _progress() as progress:
            result = run_pipeline(
                context, pipeline, kind="backfill", names=series or (), start=start_ts,
                end=end_ts, on_series=partial(_series_task, progress),
            )  # fmt: skip
    finally:
        context.close()
    table = Table(
        "series", "points", "scored", "anomalies", "new events", "models trained", "seconds",
        "status", title=f"backfill of pipeline {result.pipeline} (run {result.run_id})",
    )  # fmt: skip
    for r in result.reports:
        status = "[green]ok[/]" if r.ok else f"[red]failed:[/] {r.error}"
        if r.ok and r.notes:
            status = "; ".join(r.notes)
        table.add_row(
            r.series, str(r.points_read), str(r.points_scored), str(r.anomalies), str(r.events),
            str(r.models_trained), f"{r.seconds:.1f}", status,
        )  # fmt: skip
    out.print(table)
    if not result.reports:
        out.print("no series selected")
    if result.failed:
        err.print(f"[red]{len(result.failed)} of {len(result.reports)} series failed[/]")
        raise typer.Exit(1)


@app.command("evaluate")
def evaluate_command(
    data: Annotated[Path, typer.Option(help="NAB-format corpus: DIR/<category>/<file>.csv.")],
    labels: Annotated[Path, typer.Option(help="Labels JSON: 'category/file.csv' -> windows.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the full report as JSON here.")
    ] = None,
    pipeline: PipelineOption = None,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Backfill a labelled corpus with the pipeline's settings in a scratch database and score
    it (NAB profiles, event precision/recall/F1) beside a rolling k-sigma baseline."""
    import json

    from pipelines.jobs.evaluate import evaluate

    settings = _settings(config, verbose)
    with _progress() as progress:
        result = evaluate(
            settings, pipeline, data, labels, on_series=partial(_series_task, progress)
        )
    table = Table(
        "group", "files", "detector", "NAB standard", "low FP", "low FN", "precision", "recall",
        "F1", title=f"evaluate: pipeline {result.pipeline} on {data}",
    )  # fmt: skip
    groups = [(name, result.product.categories[name], result.baseline.categories[name])
              for name in sorted(result.product.categories)]  # fmt: skip
    groups.append(("total", result.product.total, result.baseline.total))
    for name, product, baseline in groups:
        for label, group in (("forecaster", product), ("baseline", baseline)):
            nab = group.nab
            table.add_row(
                name if label == "forecaster" else "", str(group.files), label,
                _score_text(nab["standard"].score), _score_text(nab["reward_low_FP_rate"].score),
                _score_text(nab["reward_low_FN_rate"].score), f"{group.overlap.precision:.2f}",
                f"{group.overlap.recall:.2f}", f"{group.overlap.f1:.2f}",
            )  # fmt: skip
    out.print(table)
    failed = result.run.failed
    for report in failed:
        err.print(f"[yellow]series {report.series} failed:[/] {report.error}")
    if out_file is not None:
        payload = {
            "pipeline": result.pipeline,
            "data": str(data),
            "forecaster": result.product.to_dict(),
            "baseline": result.baseline.to_dict(),
            "failed_series": {r.series: r.error for r in failed},
        }
        out_file.write_text(json.dumps(payload, indent=2) + "\n")
        out.print(f"report written to {out_file}")


@app.command("daemon")
def daemon(
    pipeline: Annotated[
        list[str] | None,
        typer.Option("--pipeline", "-p", help="Pipelines to run (repeatable; default: all)."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one detection cycle of each pipeline and exit.")
    ] = False,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Keep every pipeline's series scored: detection cycles on each pipeline's schedule,
    retraining on drift or on a cron; SIGTERM or Ctrl-C finish the chunk in hand and exit 0.

    Several daemons on one PostgreSQL database share the series between them; on SQLite one
    daemon per database file runs.
    """
    import signal
    import threading

    from pipelines.daemon.cycles import run_forever, run_once
    from pipelines.daemon.lock import sqlite_daemon_lock

    context = _context(config, verbose)
    logging.getLogger("pipelines").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("forecaster").setLevel(logging.DEBUG if verbose else logging.INFO)
    chosen = [context.settings.pipeline(name) for name in pipeline] if pipeline else None
    pipelines = chosen or list(context.settings.pipelines)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        logging.getLogger("pipelines.daemon").info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        with sqlite_daemon_lock(context.engine):
            if once:
                reports = run_once(context, pipelines, stop=stop)
                failed = sum(r.failed for r in reports) or any(r.aborted for r in reports)
                if failed:
                    raise typer.Exit(1)
            else:
                run_forever(context, pipelines, stop=stop)
    finally:
        context.close()


@app.command("status")
def status(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Each pipeline's series: watermark, lag behind the newest observation, last run, model."""
    from datetime import UTC

    from pipelines.jobs.status import pipeline_status

    now = datetime.now(UTC)
    context = _context(config, verbose)
    try:
        pipelines = pipeline_status(context, now)
    finally:
        context.close()
    for p in pipelines:
        run = p.last_run
        last = "never run"
        if run is not None:
            when = run.finished_at or run.started_at
            last = f"last run {run.id} ({run.kind}) {run.status} at {when:%Y-%m-%d %H:%M:%S}Z"
        table = Table(
            "series", "watermark", "newest point", "lag", "model", "model age", "last error",
            title=f"pipeline {p.name}: {len(p.series)} series, {last}",
        )  # fmt: skip
        for s in p.series:
            age = _age(now - s.model_trained_at) if s.model_trained_at else "-"
            table.add_row(
                s.series, _when(s.watermark), _when(s.newest),
                "-" if s.lag is None else _age(s.lag.to_pytimedelta()),
                f"v{s.model_version}" if s.model_version else "-", age,
                f"[red]{s.error}[/]" if s.error else "",
            )  # fmt: skip
        out.print(table)


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
    with _progress() as progress:
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

    from pipelines.demo.feed import Tick, run_feed

    try:
        interval = pd.Timedelta(every)
    except ValueError:
        raise typer.BadParameter(f"{every!r} is not a duration", param_hint="--every") from None
    if interval <= pd.Timedelta(0):
        raise typer.BadParameter("must be positive", param_hint="--every")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())

    def show(tick: Tick) -> None:
        at = next(iter(tick.points.values()))[0]
        spike = f" (a spike in {tick.spiked})" if tick.spiked else ""
        out.print(f"{at:%Y-%m-%d %H:%M} UTC: {len(tick.points)} new points{spike}")

    done = run_feed(
        directory, every=interval, count=count, spike_every=spike_every, stop=stop, on_tick=show
    )
    out.print(f"{done} point(s) per sensor appended")


class _DemoBars:
    """The demo's stages and series as rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def stage(self, description: str, total: int) -> Callable[[int], None]:
        task = self.progress.add_task(description, total=total)
        return lambda count: self.progress.advance(task, count)

    def series(self, name: str, pending: int) -> Callable[[int, datetime | None], None]:
        return _series_task(self.progress, f"backfill {name}", pending)


def _print_demo(result: DemoResult) -> None:
    from pipelines.demo.tour import CONFIG_FILE, FOUND_TOLERANCE_STEPS, shell_command

    table = Table(
        "series", "kind", "points", "anomalous points", "events", "labelled anomalies found",
        title=f"forecaster demo in {result.directory} ({result.seconds:.0f} s)",
    )  # fmt: skip
    missed = []
    for o in result.outcomes:
        labels = o.sample.labels
        what = "injected" if o.sample.label_source == "injected" else "known market shocks"
        hits = f"{sum(o.found)} of {len(labels)} {what}" if labels else "-"
        if o.error:
            hits = f"[red]failed:[/] {o.error}"
        table.add_row(
            o.sample.name, o.sample.kind, str(o.points), str(o.anomalies), str(o.events), hits
        )
        missed += [
            f"{o.sample.name}: {label.kind} at {label.start:%Y-%m-%d %H:%M}"
            for label, hit in zip(labels, o.found, strict=True)
            if not hit
        ]
    out.print(table)
    out.print(
        f"A labelled anomaly is found when an anomaly event overlaps it (within "
        f"{FOUND_TOLERANCE_STEPS} steps). The\n"
        "sensor series are synthetic with injected anomalies; vix is the real CBOE volatility\n"
        "index, labelled with well-known market shocks (it has other big moves too)."
    )
    if missed:
        out.print("Not found:\n  " + "\n  ".join(missed), highlight=False)
    out.print(
        f"\nPlots: {result.output_dir}/<series>.png, all on {result.output_dir}/index.html",
        highlight=False, soft_wrap=True,
    )  # fmt: skip
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
        highlight=False, soft_wrap=True,
    )  # fmt: skip


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

    if (out_file is None) == (html_dir is None):
        raise ForecasterError("give --out FILE.png (one series) or --html DIR")
    if out_file is not None and len(series or []) != 1:
        raise ForecasterError("--out draws one series: give exactly one --series")
    time_range = TimeRange(start=_parse_time(start, "--start"), end=_parse_time(end, "--end"))
    context = _context(config, verbose)
    try:
        if out_file is not None:
            from pipelines.plot.render import plot_series

            assert series is not None
            data = plot_series(context, pipeline, series[0], out_file, time_range)
            out.print(
                f"{out_file}: {data.series}, {len(data.observed)} points, "
                f"{len(data.anomalies)} anomalous points in {len(data.events)} events",
                highlight=False,
            )
        else:
            assert html_dir is not None
            _plot_html(context, pipeline, series or [], html_dir, time_range)
    finally:
        context.close()


def _plot_html(
    context: AppContext,
    pipeline: str | None,
    names: list[str],
    directory: Path,
    time_range: TimeRange,
) -> None:
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
        out.print(f"{page.data.series}: {drawn}", highlight=False)
    out.print(f"{directory / 'index.html'}: {len(pages)} series", highlight=False)


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}min"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _score_text(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.1f}"


@app.command("check-config")
def check_config(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Validate the config file and print the settings it resolves to."""
    from forecaster.db.session import display_url

    settings = _settings(config, verbose)
    out.print(f"config: {settings.config_path}")
    out.print(f"database: {display_url(settings.database.url)}")
    out.print(f"model_dir: {settings.model_dir}")
    for pipeline in settings.pipelines:
        source = pipeline.source.table if pipeline.source else "observations"
        out.print(f"pipeline {pipeline.name}: source {source}")
    out.print("[green]config is valid[/]")


def main() -> None:
    """Entry point: user errors become one clear line on stderr and exit status 1."""
    try:
        app()
    except ForecasterError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as exc:
        from sqlalchemy.exc import DBAPIError

        if not isinstance(exc, DBAPIError):
            raise
        # A database failure mid-command (server gone, lock timeout): one line, no traceback.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        err.print(f"[red]database error:[/] {reason}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
