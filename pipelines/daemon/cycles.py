"""Daemon cycles: detection and retraining over a pipeline's series, a few claimed at a time.

A detection cycle processes each claimed series with the same steps as `forecaster backfill`
(a claim's new points read in one transaction and written in another, a catch-up continued
chunk by chunk), with fresh forecasts after the newest point, and records a `pipeline_runs`
row. Database outages are retried with backoff; a bad series is recorded and skipped; a stop
request lets the work in hand commit and then ends the cycle.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.leases import LeaseJob
from forecaster.db.repo.runs import RunOutcome, finish_run, start_run
from forecaster.db.session import transaction
from forecaster.errors import ForecasterError
from forecaster.messages import exception_summary
from pipelines.context import AppContext, Clock
from pipelines.daemon.claims import process_claim
from pipelines.daemon.leases import Leases
from pipelines.daemon.retry import DatabaseUnavailable, Retrying
from pipelines.detect.cache import SeriesMemory
from pipelines.detect.run import RunOptions, SeriesReport, cached_io, process_series
from pipelines.detect.sink import SinkFactory, database_sink
from pipelines.jobs.retrain import retrain_if_needed

log = logging.getLogger(__name__)

Renew = Callable[[], None]
# Series a replica claims at a time: a claim grows from CLAIM_MIN to CLAIM_MAX while its series
# need only scoring (one read and one write transaction per claim), and drops back when one
# trains a model, so a replica busy training holds back few series from the others.
CLAIM_MIN = 4
CLAIM_MAX = 64


def replica_name() -> str:
    """This process, as other replicas and `pipeline_runs` see it."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class CycleReport:
    """What one cycle of one job did."""

    pipeline: str
    job: LeaseJob
    cycle_at: datetime
    series: int = 0
    points: int = 0
    anomalies: int = 0
    events: int = 0  # events opened
    models_trained: int = 0
    seconds: float = 0.0
    stopped: bool = False
    aborted: str | None = None
    run_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)  # failed series -> message
    notes: dict[str, str] = field(default_factory=dict)  # series left unscored -> why

    @property
    def failed(self) -> int:
        return len(self.errors)

    @property
    def status(self) -> str:
        """As the log line and `pipeline_runs` say it, or `aborted`."""
        return "aborted" if self.aborted else self.outcome.status

    @property
    def outcome(self) -> RunOutcome:
        """The cycle as its `pipeline_runs` row records it."""
        return RunOutcome(
            series_count=self.series,
            points_read=self.points,
            anomalies_written=self.anomalies,
            errors=self.errors,
            stopped=self.stopped,
            notes=self.notes,
        )

    def count(self, series: SeriesReport) -> None:
        self.points += series.points_scored
        self.anomalies += series.anomalies
        self.events += series.events
        self.models_trained += series.models_trained
        if series.notes:
            self.notes[series.series] = series.notes[0]

    def fail(self, name: str, error: str) -> None:
        self.errors[name] = error
        fields = {"pipeline": self.pipeline, "job": self.job, "series": name, "error": error}
        log.warning("series %s failed: %s", name, error, extra=fields)

    def log_line(self) -> str:
        """One structured line per cycle (key=value, easy to grep and to parse)."""
        return (
            f"cycle pipeline={self.pipeline} job={self.job} "
            f"cycle_at={self.cycle_at.isoformat()} status={self.status} series={self.series} "
            f"failed={self.failed} points={self.points} anomalies={self.anomalies} "
            f"models_trained={self.models_trained} seconds={self.seconds:.3f}"
        )

    def log_fields(self) -> dict[str, object]:
        """The log line's values, for `extra=` (the JSON log format prints them as keys)."""
        return {
            "pipeline": self.pipeline,
            "job": self.job,
            "cycle_at": self.cycle_at.isoformat(),
            "status": self.status,
            "counts": {
                "series": self.series,
                "failed": self.failed,
                "points": self.points,
                "anomalies": self.anomalies,
                "events": self.events,
                "models_trained": self.models_trained,
            },
            "duration_seconds": round(self.seconds, 3),
            "error": self.aborted,
        }


Work = Callable[[list[str], CycleReport, Renew], None]


class Cycles:
    """Runs cycles for the pipelines of one context; safe to call from one worker thread."""

    def __init__(
        self,
        context: AppContext,
        *,
        replica: str | None = None,
        clock: Clock | None = None,
        stop: threading.Event | None = None,
        on_cycle: Callable[[CycleReport], None] | None = None,
        on_retry: Callable[[str], None] | None = None,
        sink: SinkFactory = database_sink,
    ) -> None:
        self.context = context
        self.sink = sink  # where steps' rows go (wrapped to queue notifications)
        self.on_cycle = on_cycle  # told of every finished cycle (metrics, notifications)
        self.replica = replica or replica_name()
        self.clock = clock or context.clock
        self.stop = stop or threading.Event()
        self.daemon = context.settings.daemon
        self.memory = SeriesMemory()  # each series' recent context, kept between cycles
        self.retrying = Retrying(
            str(context.engine.url), self.daemon.retry_seconds, self.stop, on_retry=on_retry
        )

    def detect(self, pipeline_name: str, cycle_at: datetime) -> CycleReport:
        """Score every series' new points, write anomalies, events and fresh forecasts."""
        pipeline = self.context.settings.pipeline(pipeline_name)
        done: dict[int, str] = {}
        report = self._cycle(pipeline, "detect", cycle_at, partial(self._detect, pipeline), done)
        # Forget what this replica no longer works on: series another replica took and
        # series the pipeline no longer selects (their contexts and their models).
        self.memory.retain(pipeline.name, done.keys())
        self.context.models.retain(pipeline.name, done.values())
        return report

    def retrain(self, pipeline_name: str, cycle_at: datetime, *, scheduled: bool) -> CycleReport:
        """Retrain series whose errors drifted (every series when `scheduled`)."""
        pipeline = self.context.settings.pipeline(pipeline_name)

        def one(name: str, report: CycleReport) -> None:
            outcome = retrain_if_needed(self.context, pipeline, name, scheduled=scheduled)
            report.models_trained += int(outcome.trained)
            if outcome.trained:
                log.info("retrained %s/%s: %s", pipeline.name, name, outcome.detail)

        def work(names: list[str], report: CycleReport, renew: Renew) -> None:
            for name in names:
                if not self.stop.is_set():
                    report.series += 1
                    self._guarded(name, report, partial(one, name, report))
                    renew()

        return self._cycle(pipeline, "retrain", cycle_at, work, {})

    # --- detection -------------------------------------------------------------------------

    def _detect(
        self, pipeline: PipelineSettings, names: list[str], report: CycleReport, renew: Renew
    ) -> None:
        """One claim: every series' next step together, then the catch-ups one by one."""
        try:
            first = self.retrying(
                lambda: process_claim(
                    self.context,
                    pipeline,
                    names,
                    memory=self.memory,
                    run_id=report.run_id,
                    on_progress=renew,
                    should_stop=self.stop.is_set,
                    sink=self.sink,
                )
            )
        except DatabaseUnavailable:
            raise
        except Exception as exc:  # e.g. a query of one series fails: take them one by one
            reason = str(exc) if isinstance(exc, ForecasterError) else exception_summary(exc)
            log.warning("batch of %d series failed (%s); one at a time", len(names), reason)
            log.debug("the batch failed here", exc_info=True)
            first = {}
        for name in names:
            claimed = first.get(name)
            if claimed is None:  # not reached (stopping) or the batch failed
                if not self.stop.is_set():
                    report.series += 1
                    catch_up = partial(self._catch_up, pipeline, name, report, renew)
                    self._guarded(name, report, catch_up)
                continue
            report.series += 1
            if claimed.report.error is not None:
                report.fail(name, claimed.report.error)
                continue
            report.count(claimed.report)
            if claimed.more and not self.stop.is_set():  # a catch-up: its next chunks
                catch_up = partial(self._catch_up, pipeline, name, report, renew)
                self._guarded(name, report, catch_up)

    def _catch_up(
        self, pipeline: PipelineSettings, name: str, report: CycleReport, renew: Renew
    ) -> None:
        """A series' remaining chunks, step by step, through the daemon's memory."""
        io = replace(cached_io(self.context, pipeline, self.memory), sink=self.sink)
        result = process_series(
            self.context,
            pipeline,
            name,
            RunOptions(run_id=report.run_id, forecast_ahead=True),
            io=io,
            on_progress=lambda _n, _ts: renew(),
            should_stop=self.stop.is_set,
        )
        report.count(result)

    # --- the cycle skeleton ----------------------------------------------------------------

    def _cycle(
        self,
        pipeline: PipelineSettings,
        job: LeaseJob,
        cycle_at: datetime,
        work: Work,
        done: dict[int, str],
    ) -> CycleReport:
        """Claim series until none is left for this cycle, run `work` on each claim, record
        the run; `done` collects the series ids processed."""
        report = CycleReport(pipeline=pipeline.name, job=job, cycle_at=cycle_at)
        leases = Leases(
            self.context,
            pipeline,
            owner=self.replica,
            clock=self.clock,
            lease_seconds=self.daemon.lease_seconds,
        )
        started = time.perf_counter()
        try:
            ids = self.retrying(leases.prepare)
            report.run_id = self.retrying(lambda: self._start_run(pipeline, job, cycle_at))
            self._claims(leases, job, cycle_at, ids, work, report, done)
            report.stopped = self.stop.is_set()
        except DatabaseUnavailable as exc:
            report.aborted = str(exc)
            fields = {"pipeline": pipeline.name, "job": job, "error": str(exc)}
            log.error("%s cycle of pipeline %s aborted: %s", job, pipeline.name, exc, extra=fields)
        report.seconds = time.perf_counter() - started
        self._finish_run(report)
        log.info(report.log_line(), extra=report.log_fields())
        if self.on_cycle is not None:
            self.on_cycle(report)
        return report

    def _claims(
        self,
        leases: Leases,
        job: LeaseJob,
        cycle_at: datetime,
        ids: dict[int, str],
        work: Work,
        report: CycleReport,
        done: dict[int, str],
    ) -> None:
        limit = CLAIM_MIN
        renew = leases.renewer()
        while not self.stop.is_set():
            claimed = self.retrying(partial(leases.claim, job, cycle_at, limit))
            if not claimed:
                break
            trained = report.models_trained
            try:
                # A series taken for this cycle but not done (stopping, or one another
                # replica's config selects) is released undone: the next cycle does it.
                work([ids[i] for i in claimed if i in ids], report, renew)
                done.update((i, ids[i]) for i in claimed if i in ids)
            finally:
                with suppress(DatabaseUnavailable):  # else the leases expire on their own
                    self.retrying(partial(leases.release, claimed))
            # Claim more at a time while series only need scoring (milliseconds each);
            # training takes seconds per series, so back to small claims that leave the
            # rest to other replicas.
            grow = report.models_trained == trained
            limit = min(limit * 2, CLAIM_MAX) if grow else CLAIM_MIN

    def _guarded(self, name: str, report: CycleReport, work: Callable[[], object]) -> None:
        """Run a series' work, retrying database outages; its failure is recorded, not raised."""
        try:
            # Every chunk commits its rows with its watermark, so a retry after an outage
            # resumes exactly where the committed work ends.
            self.retrying(work)
        except DatabaseUnavailable:
            raise
        except ForecasterError as exc:  # the series' data or model: one line
            report.fail(name, str(exc))
        except Exception as exc:  # a bug: its traceback once, and the others go on
            log.exception("series %s failed", name)
            report.fail(name, exception_summary(exc))

    # --- the run row -----------------------------------------------------------------------

    def _start_run(self, pipeline: PipelineSettings, job: LeaseJob, cycle_at: datetime) -> int:
        with transaction(self.context.sessions) as session:
            return start_run(
                session=session,
                pipeline=pipeline.name,
                kind=f"daemon-{job}",
                host=socket.gethostname(),
                now=self.clock(),
                cycle_at=cycle_at,
                replica=self.replica,
            ).id

    def _finish_run(self, report: CycleReport) -> None:
        run_id = report.run_id
        if run_id is None or report.aborted is not None:
            return

        def finish() -> None:
            with transaction(self.context.sessions) as session:
                finish_run(session=session, run_id=run_id, outcome=report.outcome, now=self.clock())

        try:
            self.retrying(finish)
        except DatabaseUnavailable as exc:
            report.aborted = str(exc)
