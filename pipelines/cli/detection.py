"""`forecaster backfill`, `redetect` and `evaluate`: replay history, decide it again, score a
labelled corpus."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from forecaster.errors import ForecasterError
from pipelines.cli.app import (
    ConfigOption,
    DaskOption,
    LogFormatOption,
    PipelineOption,
    VerboseOption,
    WorkersOption,
    app,
    err,
    executor_from,
    open_app_context,
    out,
    parse_range,
    progress_bars,
    series_task,
    settings_from,
)
from pipelines.cli.render import backfill_table, evaluate_table, literal
from pipelines.ops.json_logs import LogFormat

if TYPE_CHECKING:
    from pipelines.context import AppContext
    from pipelines.jobs.evaluate import Evaluation


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
    workers: WorkersOption = None,
    dask: DaskOption = None,
    notify: Annotated[
        bool,
        typer.Option(
            "--notify",
            help="Notify the config's notify.sinks of the events this replay opens "
            "(default: a backfill notifies nobody).",
        ),
    ] = False,
    log_format: LogFormatOption = LogFormat.text,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Replay history exactly as the daemon would have processed it; resumable and idempotent.

    Trains once enough history exists, retrains walk-forward, scores every point with the model
    of its time, and commits each chunk's rows with the watermark. Rerunning continues where the
    last run stopped; a finished backfill changes nothing. Each series is leased while it runs,
    so a daemon or another backfill does not process it at the same time.
    """
    from pipelines.jobs.backfill import run_pipeline
    from pipelines.notify.wiring import require_sinks
    from pipelines.ops.json_logs import configure_logs

    start_ts, end_ts = parse_range(start, end)
    configure_logs(log_format, verbose)
    context = open_app_context(config, verbose, models=True)
    try:
        if notify:
            require_sinks(context)
        executor = executor_from(context.settings.executor, workers, dask)
        with progress_bars() as progress:
            result = run_pipeline(
                context,
                pipeline,
                kind="backfill",
                names=series or (),
                start=start_ts,
                end=end_ts,
                on_series=partial(series_task, progress),
                executor=executor,
                notify=notify,
            )
        if notify:
            _send_notifications(context)
    finally:
        context.close()
    out.print(backfill_table(result))
    if not result.reports:
        out.print("no series selected")
    if result.failed:
        err.print(f"[red]{len(result.failed)} of {len(result.reports)} series failed[/]")
        raise typer.Exit(1)


def _send_notifications(context: AppContext) -> None:
    """`backfill --notify`: send the queued notifications for a bounded time, say what is
    left for the daemon."""
    from pipelines.notify.wiring import drain_outbox

    sent, left = drain_outbox(context)
    line = f"notifications: {sent.delivered} sent, {left.pending} pending"
    if left.pending:
        line += " (the daemon sends them"
        line += f"; last error: {left.last_error})" if left.last_error else ")"
    out.print(line, highlight=False, soft_wrap=True)


@app.command("redetect")
def redetect_command(
    series: Annotated[
        list[str] | None,
        typer.Option(
            "--series", "-s", help="Series to redo (repeatable; default: all of the pipeline)."
        ),
    ] = None,
    pipeline: PipelineOption = None,
    start: Annotated[
        str | None,
        typer.Option(help="Redo anomalies from this time on (ISO 8601, UTC; default: all)."),
    ] = None,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Recompute anomalies and events from the stored one-step predictions with the current
    detection settings, without retraining: seconds, to tune thresholds and scorers.

    Only points a backfill or the daemon already processed are redone; their forecasts and
    watermarks stay. Each series is redone in one transaction.
    """
    from pipelines.jobs.redetect import redetect

    start_ts, _ = parse_range(start, None)
    context = open_app_context(config, verbose, models=False)
    try:
        result = redetect(context, pipeline, names=series or (), start=start_ts)
    finally:
        context.close()
    out.print(backfill_table(result, "redetect"))
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
    workdir: Annotated[
        Path | None,
        typer.Option(help="Keep the scratch database, models and predictions here."),
    ] = None,
    reuse_predictions: Annotated[
        bool,
        typer.Option(
            "--reuse-predictions",
            help="Decide the predictions kept in --workdir again with the current detection "
            "settings (redetect): seconds, no training.",
        ),
    ] = False,
    pipeline: PipelineOption = None,
    workers: WorkersOption = None,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Backfill a labelled corpus with the pipeline's settings in a scratch database and score
    it (NAB profiles, event precision/recall/F1) beside a rolling k-sigma baseline."""
    from pipelines.cli.paths import check_output_file
    from pipelines.jobs.evaluate import evaluate

    settings = settings_from(config, verbose)
    # The scratch database is a local SQLite file: local workers can share it, a cluster not.
    executor = executor_from(settings.executor, workers, None).model_copy(update={"dask": None})
    settings = settings.model_copy(update={"executor": executor})
    if out_file is not None:
        check_output_file(out_file, "--out")  # before minutes of work, not after
    with progress_bars() as progress:
        result = evaluate(
            settings,
            pipeline,
            data,
            labels,
            on_series=partial(series_task, progress),
            workdir=workdir,
            reuse_predictions=reuse_predictions,
        )
    out.print(evaluate_table(result, data))
    for report in result.run.failed:
        err.print(f"[yellow]series {literal(report.series)} failed:[/] {literal(report.error)}")
    if out_file is not None:
        _write_evaluation(out_file, result, data)
        out.print(f"report written to {out_file}", markup=False)


def _write_evaluation(path: Path, result: Evaluation, data: Path) -> None:
    """Both detectors' full reports and the failed series' errors as indented JSON."""
    import json

    payload = {
        "pipeline": result.pipeline,
        "data": str(data),
        "forecaster": result.product.to_dict(),
        "baseline": result.baseline.to_dict(),
        "failed_series": {r.series: r.error for r in result.run.failed},
    }
    try:
        path.write_text(json.dumps(payload, indent=2) + "\n")
    except OSError as exc:
        raise ForecasterError(f"--out {path}: cannot write the report: {exc.strerror}") from None
