"""The daemon's scheduler: each pipeline's detection and retraining jobs on APScheduler, UTC."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from forecaster.config.pipeline import PipelineSettings
from pipelines.context import AppContext, Clock
from pipelines.daemon.companions import Companions
from pipelines.daemon.cycles import CycleReport, Cycles
from pipelines.daemon.liveness import SchedulerWatch
from pipelines.daemon.triggers import cycle_time, detect_trigger, retrain_trigger
from pipelines.detect.sink import SinkFactory, database_sink

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


def make_scheduler(misfire_grace_seconds: float) -> BackgroundScheduler:
    """The daemon's scheduler: UTC, in-memory jobs, one worker. One worker because jobs share
    one TensorFlow network per architecture and a pipeline's jobs must not overlap; coalesce
    turns a backlog of missed runs into one catch-up run."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": max(1, int(misfire_grace_seconds)),
        },
    )


def add_jobs(
    scheduler: BackgroundScheduler, cycles: Cycles, pipeline: PipelineSettings, now: Clock
) -> None:
    """A pipeline's jobs: a catch-up detection cycle at once, then detection on its schedule
    and retraining on its cron or drift check."""
    detect = detect_trigger(pipeline)
    retrain = retrain_trigger(pipeline)
    scheduled = pipeline.training.cron is not None

    def detect_job() -> None:
        cycles.detect(pipeline.name, cycle_time(detect, now()))

    def retrain_job() -> None:
        cycles.retrain(pipeline.name, cycle_time(retrain, now()), scheduled=scheduled)

    # A first detection cycle runs at once: it catches up on points missed while down.
    # (A job of its own: giving the scheduled job a first run now would shift all its
    # later runs off the UTC-aligned times.) One worker thread runs them one after another.
    # (APScheduler fires on the wall clock, so the catch-up is due on it, not on `now`.)
    scheduler.add_job(
        detect_job,
        "date",
        id=f"catch-up:{pipeline.name}",
        name=f"catch up {pipeline.name}",
        run_date=datetime.now(UTC),
    )
    scheduler.add_job(
        detect_job, detect, id=f"detect:{pipeline.name}", name=f"detect {pipeline.name}"
    )
    scheduler.add_job(
        retrain_job, retrain, id=f"retrain:{pipeline.name}", name=f"retrain {pipeline.name}"
    )


def run_forever(
    context: AppContext,
    pipelines: Sequence[PipelineSettings],
    *,
    stop: threading.Event,
    clock: Clock | None = None,
    companions: Companions | None = None,
    watch: SchedulerWatch | None = None,
    sink: SinkFactory = database_sink,
    on_retry: Callable[[str], None] | None = None,
) -> None:
    """Run the detection and retraining jobs of `pipelines` until `stop` is set, then let the
    job in hand finish its chunk and return; `companions` start before the first cycle, hear
    of every cycle and stop after the last; `watch` is given the running scheduler (for the
    health check) and `on_retry` hears of every database retry."""
    now = clock or context.clock
    beside = companions or Companions()
    cycles = Cycles(
        context,
        clock=now,
        stop=stop,
        on_cycle=beside.cycle_finished,
        on_retry=on_retry,
        sink=sink,  # where the steps' rows go (wrapped to queue notifications)
    )
    scheduler = make_scheduler(context.settings.daemon.misfire_grace_seconds)
    for pipeline in pipelines:
        add_jobs(scheduler, cycles, pipeline, now)
    beside.start()
    scheduler.start()
    if watch is not None:
        watch.attach(scheduler)
    log.info(
        "daemon %s started: %s",
        cycles.replica,
        ", ".join(f"{job.name} ({job.trigger})" for job in scheduler.get_jobs()),
    )
    try:
        stop.wait()
    finally:
        log.info("stopping: finishing the chunk in hand")
        if watch is not None:
            watch.detach()
        scheduler.shutdown(wait=True)
        beside.stop()
        log.info("daemon %s stopped", cycles.replica)


def run_once(
    context: AppContext,
    pipelines: Sequence[PipelineSettings],
    *,
    stop: threading.Event,
    clock: Clock | None = None,
    companions: Companions | None = None,
    sink: SinkFactory = database_sink,
) -> list[CycleReport]:
    """One detection cycle of each pipeline, now (for cron users and tests)."""
    now = clock or context.clock
    beside = companions or Companions()
    cycles = Cycles(context, clock=now, stop=stop, on_cycle=beside.cycle_finished, sink=sink)
    beside.start()
    try:
        return [cycles.detect(p.name, now()) for p in pipelines]
    finally:
        beside.stop()
