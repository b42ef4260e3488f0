"""`forecaster daemon` and `forecaster status`: keep the pipelines scored, show how far they are."""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from pipelines.cli.app import (
    ConfigOption,
    LogFormatOption,
    VerboseOption,
    app,
    open_app_context,
    out,
)
from pipelines.cli.render import status_table
from pipelines.ops.json_logs import LogFormat

if TYPE_CHECKING:
    from forecaster.config.pipeline import PipelineSettings
    from pipelines.context import AppContext
    from pipelines.daemon.liveness import SchedulerWatch
    from pipelines.ops.companion import MetricsCompanion


@app.command("daemon")
def daemon(
    pipeline: Annotated[
        list[str] | None,
        typer.Option("--pipeline", "-p", help="Pipelines to run (repeatable; default: all)."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one detection cycle of each pipeline and exit.")
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=1,
            max=65535,
            help="Serve Prometheus /metrics and the /healthz and /readyz probes on this port "
            "(default: daemon.metrics_port; not with --once).",
            show_default=False,
        ),
    ] = None,
    log_format: LogFormatOption = LogFormat.text,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Keep every pipeline's series scored: detection cycles on each pipeline's schedule,
    retraining on drift or on a cron; SIGTERM or Ctrl-C finish the chunk in hand and exit 0.

    Several daemons on one PostgreSQL database share the series between them; on SQLite one
    daemon per database file runs.
    """
    from pipelines.daemon.companions import Companion, Companions
    from pipelines.daemon.liveness import SchedulerWatch
    from pipelines.daemon.lock import sqlite_daemon_lock
    from pipelines.daemon.scheduler import run_forever, run_once
    from pipelines.notify.wiring import daemon_notifications
    from pipelines.ops.json_logs import configure_logs

    configure_logs(log_format, verbose)
    context = open_app_context(config, verbose, models=True)
    logging.getLogger("pipelines").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("forecaster").setLevel(logging.DEBUG if verbose else logging.INFO)
    chosen = [context.settings.pipeline(name) for name in pipeline] if pipeline else None
    pipelines = chosen or list(context.settings.pipelines)
    stop = _stop_on_signals()
    watch = SchedulerWatch()
    metrics = _metrics_companion(context, pipelines, metrics_port, once, watch)
    members: list[Companion] = []  # the parts beside the jobs: metrics, notifications
    if metrics is not None:
        members.append(metrics)
    notifications = daemon_notifications(context, once=once)  # the outbox sink and sender
    members += notifications.companions
    beside = Companions(members)
    try:
        with sqlite_daemon_lock(context.engine):
            if once:
                reports = run_once(
                    context, pipelines, stop=stop, companions=beside, sink=notifications.sink
                )
                failed = sum(r.failed for r in reports) or any(r.aborted for r in reports)
                if failed:
                    raise typer.Exit(1)
            else:
                run_forever(
                    context,
                    pipelines,
                    stop=stop,
                    companions=beside,
                    sink=notifications.sink,
                    watch=watch,
                    on_retry=metrics.database_retry if metrics is not None else None,
                )
    finally:
        context.close()


def _metrics_companion(
    context: AppContext,
    pipelines: list[PipelineSettings],
    port: int | None,
    once: bool,
    watch: SchedulerWatch,
) -> MetricsCompanion | None:
    """The metrics and probes server of --metrics-port (else daemon.metrics_port), if any.
    A --once run serves nothing: it is over before a scrape, and leaves the port to a daemon
    that may be running beside it."""
    from pipelines.ops.companion import MetricsCompanion

    if once:
        if port is not None:
            logging.getLogger("pipelines.daemon").warning("--once: --metrics-port is ignored")
        return None
    port = port or context.settings.daemon.metrics_port
    if port is None:
        return None
    return MetricsCompanion(context, pipelines, port=port, watch=watch)


def _stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set, so the daemon finishes its chunk and exits 0."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        logging.getLogger("pipelines.daemon").info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


@app.command("status")
def status(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Each pipeline's series: watermark, lag behind the newest observation, last run, model."""
    from pipelines.jobs.status import pipeline_status

    context = open_app_context(config, verbose)
    now = context.clock()
    try:
        pipelines = pipeline_status(context)
    finally:
        context.close()
    for p in pipelines:
        out.print(status_table(p, now))
