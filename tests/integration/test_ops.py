"""The daemon's metrics companion on real databases and real HTTP (in process): lag, model age
and failing series read at scrape time and cached; readiness pings the database with a
timeout; /healthz follows the scheduler."""

from __future__ import annotations

import socket
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forecaster.config.database import DatabaseSettings
from forecaster.db.repo.model_versions import add_model_version
from forecaster.db.repo.runs import RunOutcome, finish_run, start_run
from forecaster.db.repo.series import get_series
from forecaster.db.repo.watermarks import set_watermarks, watermark_row
from forecaster.db.session import make_engine, transaction
from pipelines.context import AppContext
from pipelines.daemon.cycles import CycleReport
from pipelines.daemon.liveness import SchedulerWatch
from pipelines.daemon.scheduler import make_scheduler
from pipelines.jobs.ingest import IngestRequest, ingest_file
from pipelines.ops.companion import MetricsCompanion
from pipelines.ops.freshness import FreshnessCollector
from pipelines.ops.health import Readiness
from tests.helpers.http import free_port, get
from tests.helpers.pipelines import migrated
from tests.helpers.series import write_series

NEWEST = datetime(2024, 5, 2, 5, 45, tzinfo=UTC)  # the 120th point of write_series


@pytest.fixture
def context(db_url: str, tmp_path: Path) -> AppContext:
    context = migrated(db_url, tmp_path / "work")
    write_series(tmp_path / "s.csv", n=120)
    for name in ("s", "t"):
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series=name))
    return context


def mark(context: AppContext, name: str, last_ts: datetime) -> None:
    with transaction(context.sessions) as session:
        series_id = get_series(session=session, name=name).id
        row = watermark_row("default", series_id, last_ts, now=datetime.now(UTC))
        set_watermarks(session=session, rows=[row])


def test_lag_model_age_and_failing_series_come_from_the_database(context: AppContext) -> None:
    mark(context, "s", NEWEST - timedelta(minutes=30))
    with transaction(context.sessions) as session:
        series_id = get_series(session=session, name="s").id
        add_model_version(
            session=session,
            pipeline="default",
            series_id=series_id,
            version=1,
            trained_from=NEWEST - timedelta(days=1),
            trained_to=NEWEST,
            metrics={},
            artifact_path="default/s/1",
        )
        run = start_run(session=session, pipeline="default", kind="backfill", host=None, now=NEWEST)
        failed = RunOutcome(series_count=1, errors={"t": "t: constant at 10 so far"})
        finish_run(session=session, run_id=run.id, outcome=failed, now=datetime.now(UTC))
    collector = FreshnessCollector(
        context, ["default"], refresh_seconds=60, series_labels=False, clock=context.clock
    )
    try:
        snapshot = collector.snapshot()
        assert snapshot is not None
        s, t = sorted(snapshot["default"], key=lambda row: row.series)
        assert s.lag == 1800 and not s.failing
        assert s.model_age is not None and 0 <= s.model_age < 120
        assert t.lag is None and t.model_age is None and t.failing
        # Within refresh_seconds a scrape gets the cached values, not a new read.
        mark(context, "s", NEWEST)
        assert collector.snapshot() is snapshot
        collector.refresh_seconds = 0
        fresh = collector.snapshot()
        assert fresh is not None and {r.series: r.lag for r in fresh["default"]}["s"] == 0
    finally:
        context.close()


def test_readiness_needs_a_finished_cycle_and_a_database_that_answers(context: AppContext) -> None:
    pipelines = list(context.settings.pipelines)
    readiness = Readiness(context.engine, pipelines, clock=context.clock)
    detect = CycleReport(pipeline="default", job="detect", cycle_at=datetime.now(UTC))
    try:
        assert readiness.problem() == "pipeline default: no detection cycle has finished yet"
        readiness.cycle_finished(CycleReport(**{**vars(detect), "aborted": "unreachable"}))
        readiness.cycle_finished(CycleReport(**{**vars(detect), "job": "retrain"}))
        assert readiness.problem() is not None  # neither an aborted nor a retraining cycle
        readiness.cycle_finished(detect)
        assert readiness.problem() is None
    finally:
        context.close()
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    gone = Readiness(make_engine(DatabaseSettings(url=url)), pipelines, clock=context.clock)
    gone.cycle_finished(detect)
    problem = gone.problem()
    assert problem is not None and problem.startswith("database: cannot connect to database")
    assert "nobody@127.0.0.1" in problem


def test_a_database_that_never_answers_times_out_the_check() -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    try:
        url = f"postgresql+psycopg://nobody@127.0.0.1:{silent.getsockname()[1]}/none"
        engine = make_engine(DatabaseSettings(url=url))
        readiness = Readiness(engine, [], clock=lambda: datetime.now(UTC), database_timeout=0.3)
        assert readiness.problem() == "database: no answer to SELECT 1 within 0.3 s"
        assert readiness.problem() == (
            "database: an earlier SELECT 1 is still waiting for an answer"
        )
    finally:
        silent.close()


def test_the_companion_serves_metrics_and_probes(context: AppContext) -> None:
    watch = SchedulerWatch()
    companion = MetricsCompanion(context, context.settings.pipelines, port=0, watch=watch)
    scheduler = make_scheduler(misfire_grace_seconds=30)
    companion.start()
    base = f"http://127.0.0.1:{companion.server.port}"
    try:
        assert get(f"{base}/healthz") == (503, "not alive: the scheduler is not running\n")
        scheduler.start()
        watch.attach(scheduler)
        assert get(f"{base}/healthz")[0] == 200
        status, body = get(f"{base}/readyz")
        assert status == 503 and "no detection cycle has finished yet" in body
        report = CycleReport(pipeline="default", job="detect", cycle_at=datetime.now(UTC))
        report.series, report.points = 2, 17
        companion.cycle_finished(report)
        companion.database_retry("connection refused")
        assert get(f"{base}/readyz")[0] == 200
        status, metrics = get(f"{base}/metrics")
        assert status == 200
        assert 'forecaster_points_scored_total{pipeline="default"} 17.0' in metrics
        assert "forecaster_database_retries_total 1.0" in metrics
        assert 'forecaster_series_selected{pipeline="default"} 2.0' in metrics
        assert get(f"{base}/other")[0] == 404
        scheduler.shutdown()
        assert get(f"{base}/healthz")[0] == 503
    finally:
        companion.stop()
        context.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/healthz", timeout=2)
