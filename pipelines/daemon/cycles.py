"""`forecaster daemon`: scheduled detection and retraining cycles over every pipeline's series.

A cycle leases its series a few at a time (so replicas on one PostgreSQL database share the
work and each series is done once per cycle), processes them with the same steps as
`forecaster backfill` (the new points of a claim's series read in one transaction and written
in another), refreshes their forecasts, and records a `pipeline_runs` row. Database outages
are retried with backoff; a bad series is recorded and skipped; a stop request lets the work
in hand commit and then ends the cycle.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Literal, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.leases import claim_series, ensure_leases, release_leases, renew_leases
from forecaster.db.repo.runs import finish_run, start_run
from forecaster.db.repo.series import ensure_series_ids
from forecaster.db.session import display_url, transaction
from forecaster.errors import DatabaseError, ForecasterError
from pipelines.context import AppContext
from pipelines.daemon.cache import SeriesMemory
from pipelines.detect.run import SeriesReport, process_first_steps, process_series
from pipelines.jobs.forecast import refresh_forecast
from pipelines.jobs.retrain import retrain_if_needed
from pipelines.selection import select_series

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]
Renew = Callable[[], None]
Job = Literal["detect", "retrain"]

# Series a replica claims at a time: a claim grows from CLAIM_MIN to CLAIM_MAX while its series
# need only scoring (one read and one write transaction per claim), and drops back when one
# trains a model, so a replica busy training holds back few series from the others.
CLAIM_MIN = 4
CLAIM_MAX = 64
_FIRST_RETRY_DELAY_S = 0.5
_MAX_RETRY_DELAY_S = 10.0


def system_clock() -> datetime:
    return datetime.now(UTC)


def replica_name() -> str:
    """This process, as other replicas and `pipeline_runs` see it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class DatabaseUnavailable(DatabaseError):
    """The database stayed unreachable for longer than the retry budget of a cycle."""


@dataclass
class CycleReport:
    """What one cycle of one job did."""

    pipeline: str
    job: Job
    cycle_at: datetime
    series: int = 0
    failed: int = 0
    points: int = 0
    anomalies: int = 0
    models_trained: int = 0
    seconds: float = 0.0
    stopped: bool = False
    aborted: str | None = None
    run_id: int | None = None
    errors: list[str] = field(default_factory=list)

    def log_line(self) -> str:
        """One structured line per cycle (key=value, easy to grep and to parse)."""
        status = "aborted" if self.aborted else ("stopped" if self.stopped else "ok")
        return (
            f"cycle pipeline={self.pipeline} job={self.job} "
            f"cycle_at={self.cycle_at.isoformat()} status={status} series={self.series} "
            f"failed={self.failed} points={self.points} anomalies={self.anomalies} "
            f"models_trained={self.models_trained} seconds={self.seconds:.3f}"
        )


class Cycles:
    """Runs cycles for the pipelines of one context; safe to call from one worker thread."""

    def __init__(
        self,
        context: AppContext,
        *,
        replica: str | None = None,
        clock: Clock = system_clock,
        stop: threading.Event | None = None,
    ) -> None:
        self.context = context
        self.replica = replica or replica_name()
        self.clock = clock
        self.stop = stop or threading.Event()
        self.daemon = context.settings.daemon
        self.memory = SeriesMemory()  # each series' recent context, kept between cycles

    def detect(self, pipeline_name: str, cycle_at: datetime) -> CycleReport:
        """Score every series' new points, write anomalies, events and fresh forecasts."""
        pipeline = self.context.settings.pipeline(pipeline_name)

        def one(name: str, report: CycleReport, renew: Renew) -> None:
            result = process_series(
                self.context, pipeline, name, run_id=report.run_id,
                on_progress=lambda _n, _ts: renew(), should_stop=self.stop.is_set,
                memory=self.memory, forecast=True,
            )  # fmt: skip
            _count(report, result)
            if result.points_read and not result.forecast_written and not self.stop.is_set():
                refresh_forecast(self.context, pipeline, name, result.tail)

        def batch(names: list[str], report: CycleReport, renew: Renew) -> None:
            try:
                first = self._retrying(
                    lambda: process_first_steps(
                        self.context,
                        pipeline,
                        names,
                        run_id=report.run_id,
                        memory=self.memory,
                        on_progress=renew,
                        should_stop=self.stop.is_set,
                    )
                )
            except DatabaseUnavailable:
                raise
            except Exception as exc:  # e.g. a query of one series fails: take them one by one
                log.warning("batch of %d series failed (%s); one at a time", len(names), exc)
                first = {}
            for name in names:
                done = first.get(name)
                if done is None:  # not reached (stopping) or the batch failed
                    if not self.stop.is_set():
                        self._one_series(name, report, partial(one, name, report, renew))
                    continue
                report.series += 1
                if done.error is not None:
                    _record_failure(report, name, done.error)
                    continue
                _count(report, done)
                if self.stop.is_set():
                    continue
                if done.more:  # a catch-up: its next chunks one by one
                    self._guarded(name, report, partial(one, name, report, renew))
                elif done.points_read and not done.forecast_written:
                    refresh = partial(refresh_forecast, self.context, pipeline, name, done.tail)
                    self._guarded(name, report, refresh)

        return self._cycle(pipeline, "detect", cycle_at, batch)

    def retrain(self, pipeline_name: str, cycle_at: datetime, *, scheduled: bool) -> CycleReport:
        """Retrain series whose errors drifted (every series when `scheduled`)."""
        pipeline = self.context.settings.pipeline(pipeline_name)

        def one(name: str, report: CycleReport) -> None:
            outcome = retrain_if_needed(self.context, pipeline, name, scheduled=scheduled)
            report.models_trained += int(outcome.trained)
            if outcome.trained:
                log.info("retrained %s/%s: %s", pipeline.name, name, outcome.detail)

        def batch(names: list[str], report: CycleReport, renew: Renew) -> None:
            for name in names:
                if not self.stop.is_set():
                    self._one_series(name, report, partial(one, name, report))
                    renew()

        return self._cycle(pipeline, "retrain", cycle_at, batch)

    # --- the cycle skeleton ----------------------------------------------------------------

    def _cycle(
        self,
        pipeline: PipelineSettings,
        job: Job,
        cycle_at: datetime,
        work: Callable[[list[str], CycleReport, Renew], None],
    ) -> CycleReport:
        report = CycleReport(pipeline=pipeline.name, job=job, cycle_at=cycle_at)
        started = time.perf_counter()
        try:
            ids = self._retrying(lambda: self._prepare(pipeline))
            report.run_id = self._retrying(lambda: self._start_run(pipeline, job, cycle_at))
            limit = CLAIM_MIN
            while not self.stop.is_set():
                claimed = self._retrying(partial(self._claim, pipeline, job, cycle_at, limit))
                if not claimed:
                    break
                trained = report.models_trained
                try:
                    # A series taken for this cycle but not done (stopping, or one another
                    # replica's config selects) is released undone: the next cycle does it.
                    work([ids[i] for i in claimed if i in ids], report, self._renewer(pipeline))
                finally:
                    with suppress(DatabaseUnavailable):  # else the leases expire on their own
                        self._retrying(partial(self._release, pipeline, claimed))
                # Claim more at a time while series only need scoring (milliseconds each);
                # training takes seconds per series, so back to small claims that leave the
                # rest to other replicas.
                grow = report.models_trained == trained
                limit = min(limit * 2, CLAIM_MAX) if grow else CLAIM_MIN
            report.stopped = self.stop.is_set()
        except DatabaseUnavailable as exc:
            report.aborted = str(exc)
            log.error("%s cycle of pipeline %s aborted: %s", job, pipeline.name, exc)
        report.seconds = time.perf_counter() - started
        run_id = report.run_id
        if run_id is not None and report.aborted is None:
            try:
                self._retrying(lambda: self._finish_run(run_id, report))
            except DatabaseUnavailable as exc:
                report.aborted = str(exc)
        log.info(report.log_line())
        return report

    def _one_series(self, name: str, report: CycleReport, work: Callable[[], None]) -> None:
        report.series += 1
        self._guarded(name, report, work)

    def _guarded(self, name: str, report: CycleReport, work: Callable[[], object]) -> None:
        """Run a series' work, retrying database outages; its failure is recorded, not raised."""
        try:
            # Every chunk commits its rows with its watermark, so a retry after an outage
            # resumes exactly where the committed work ends.
            self._retrying(work)
        except DatabaseUnavailable:
            raise
        except ForecasterError as exc:
            _record_failure(report, name, str(exc))
        except Exception as exc:  # one bad series must not stop the others
            log.exception("series %s failed", name)
            _record_failure(report, name, f"{type(exc).__name__}: {exc}")

    # --- database steps (each its own short transaction) -----------------------------------

    def _prepare(self, pipeline: PipelineSettings) -> dict[int, str]:
        with transaction(self.context.sessions) as session:
            names = select_series(self.context, session, pipeline, ())
            by_name = ensure_series_ids(session=session, names=names)
            ids = {series_id: name for name, series_id in by_name.items()}
            ensure_leases(session=session, pipeline=pipeline.name, series_ids=list(ids))
        return ids

    def _start_run(self, pipeline: PipelineSettings, job: Job, cycle_at: datetime) -> int:
        with transaction(self.context.sessions) as session:
            return start_run(
                session=session, pipeline=pipeline.name, kind=f"daemon-{job}",
                host=socket.gethostname(), cycle_at=cycle_at, replica=self.replica,
            ).id  # fmt: skip

    def _finish_run(self, run_id: int, report: CycleReport) -> None:
        if report.failed == 0:
            status = "stopped" if report.stopped else "ok"
        else:
            status = "failed" if report.failed == report.series else "partial"
        with transaction(self.context.sessions) as session:
            finish_run(
                session=session, run_id=run_id, status=status, series_count=report.series,
                series_failed=report.failed, points_read=report.points,
                anomalies_written=report.anomalies,
                error="; ".join(report.errors)[:2000] or None,
            )  # fmt: skip

    def _claim(
        self, pipeline: PipelineSettings, job: Job, cycle_at: datetime, limit: int
    ) -> list[int]:
        now = self.clock()
        with transaction(self.context.sessions) as session:
            return claim_series(
                session=session, pipeline=pipeline.name, job=job,
                cycle_at=cycle_at, owner=self.replica, now=now,
                lease_until=now + timedelta(seconds=self.daemon.lease_seconds),
                limit=limit,
            )  # fmt: skip

    def _release(self, pipeline: PipelineSettings, series_ids: list[int]) -> None:
        with transaction(self.context.sessions) as session:
            release_leases(
                session=session, pipeline=pipeline.name, series_ids=series_ids, owner=self.replica
            )

    def _renewer(self, pipeline: PipelineSettings) -> Callable[[], None]:
        """Extends this replica's leases (the series in hand and the ones claimed after it)
        after a chunk, once a third of the lease time has passed."""
        every = self.daemon.lease_seconds / 3
        last = [time.monotonic()]

        def renew() -> None:
            if time.monotonic() - last[0] < every:
                return
            now = self.clock()
            with transaction(self.context.sessions) as session:
                renew_leases(
                    session=session, pipeline=pipeline.name, owner=self.replica,
                    lease_until=now + timedelta(seconds=self.daemon.lease_seconds),
                )  # fmt: skip
            last[0] = time.monotonic()

        return renew

    def _retrying(self, step: Callable[[], T]) -> T:
        """Run a database step, retrying with exponential backoff while the database is
        unreachable, for at most `daemon.retry_seconds`; a stop request ends the waiting."""
        deadline = time.monotonic() + self.daemon.retry_seconds
        delay = _FIRST_RETRY_DELAY_S
        while True:
            try:
                return step()
            except (OperationalError, DatabaseError) as exc:
                if isinstance(exc, DatabaseUnavailable):
                    raise
                if isinstance(exc, DBAPIError) and not _is_connection_problem(exc):
                    raise
                remaining = deadline - time.monotonic()
                reason = _first_line(exc)
                if remaining <= 0 or self.stop.is_set():
                    raise DatabaseUnavailable(
                        f"database {display_url(str(self.context.engine.url))} unreachable: "
                        f"{reason}"
                    ) from None
                log.warning("database problem (%s); retrying in %.1f s", reason, delay)
                self.stop.wait(min(delay, remaining))
                delay = min(delay * 2, _MAX_RETRY_DELAY_S)


def _count(report: CycleReport, series: SeriesReport) -> None:
    report.points += series.points_scored
    report.anomalies += series.anomalies
    report.models_trained += series.models_trained


def _record_failure(report: CycleReport, name: str, error: str) -> None:
    report.failed += 1
    report.errors.append(f"{name}: {error}")
    log.warning("series %s failed: %s", name, error)


def _is_connection_problem(exc: DBAPIError) -> bool:
    """Operational errors worth waiting out: lost or refused connections, a locked SQLite file."""
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    hints = ("connect", "connection", "server closed", "terminating", "locked", "timeout",
             "could not receive", "shutting down", "starting up", "recovery mode")  # fmt: skip
    return any(hint in text for hint in hints)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- the scheduler -----------------------------------------------------------------------------


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


def run_forever(
    context: AppContext,
    pipelines: Sequence[PipelineSettings],
    *,
    stop: threading.Event,
    clock: Clock = system_clock,
) -> None:
    """Run the detection and retraining jobs of `pipelines` until `stop` is set, then let the
    job in hand finish its chunk and return."""
    from pipelines.daemon.triggers import cycle_time, detect_trigger, retrain_trigger

    cycles = Cycles(context, clock=clock, stop=stop)
    scheduler = make_scheduler(context.settings.daemon.misfire_grace_seconds)
    for pipeline in pipelines:
        detect = detect_trigger(pipeline)
        retrain = retrain_trigger(pipeline)
        scheduled = pipeline.training.cron is not None

        def detect_job(name: str = pipeline.name, trigger: object = detect) -> None:
            cycles.detect(name, cycle_time(trigger, clock()))

        def retrain_job(
            name: str = pipeline.name, trigger: object = retrain, scheduled: bool = scheduled
        ) -> None:
            cycles.retrain(name, cycle_time(trigger, clock()), scheduled=scheduled)

        # A first detection cycle runs at once: it catches up on points missed while down.
        # (A job of its own: giving the scheduled job a first run now would shift all its
        # later runs off the UTC-aligned times.) One worker thread runs them one after another.
        scheduler.add_job(
            detect_job, "date", id=f"catch-up:{pipeline.name}", name=f"catch up {pipeline.name}",
            run_date=datetime.now(UTC),
        )  # fmt: skip
        scheduler.add_job(
            detect_job, detect, id=f"detect:{pipeline.name}", name=f"detect {pipeline.name}"
        )
        scheduler.add_job(
            retrain_job, retrain, id=f"retrain:{pipeline.name}", name=f"retrain {pipeline.name}"
        )
    scheduler.start()
    log.info(
        "daemon %s started: %s",
        cycles.replica,
        ", ".join(f"{job.name} ({job.trigger})" for job in scheduler.get_jobs()),
    )
    try:
        stop.wait()
    finally:
        log.info("stopping: finishing the chunk in hand")
        scheduler.shutdown(wait=True)
        log.info("daemon %s stopped", cycles.replica)


def run_once(
    context: AppContext,
    pipelines: Sequence[PipelineSettings],
    *,
    stop: threading.Event,
    clock: Clock = system_clock,
) -> list[CycleReport]:
    """One detection cycle of each pipeline, now (for cron users and tests)."""
    cycles = Cycles(context, clock=clock, stop=stop)
    return [cycles.detect(p.name, clock()) for p in pipelines]
