"""The daemon on real databases with tiny real models: same rows as backfill, catch-up,
leases between replicas, outages, graceful stop, one daemon per SQLite file."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from forecaster.config.loading import load_config
from forecaster.db.repo.leases import claim_series
from pipelines.context import AppContext, open_context
from pipelines.daemon.cycles import Cycles
from pipelines.daemon.scheduler import make_scheduler
from pipelines.daemon.triggers import cron_trigger, cycle_time, interval_trigger
from pipelines.detect.plan import cutoff_for
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from pipelines.jobs.retrain import drift_ratio, retrain_series
from tests.cli_helpers import FORECASTER, run_cli
from tests.conftest import BACKENDS, PostgresServer
from tests.test_backfill import write_config, write_series

CYCLE = datetime(2030, 1, 1, tzinfo=UTC)


def scored_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Anomalies, events, one-step predictions and watermarks (what backfill also writes)."""
    queries = {
        "anomalies": "SELECT ts, observed, predicted, residual, threshold, score, severity, "
        "direction FROM anomalies ORDER BY ts",
        "events": "SELECT start_ts, end_ts, peak_ts, peak_score, n_points, direction, severity "
        "FROM anomaly_events ORDER BY start_ts",
        "one_step": "SELECT issued_at, ts, predicted FROM forecasts WHERE step = 1 "
        "AND ts <= (SELECT max(last_ts) FROM watermarks) ORDER BY ts",
        "watermarks": "SELECT last_ts FROM watermarks",
    }
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = {k: [tuple(r) for r in connection.execute(text(q))] for k, q in queries.items()}
    engine.dispose()
    return rows


def load_rows(context: AppContext, path: Path, series: str, rows: slice) -> None:
    """Append part of a CSV to a series, as a producer writing new observations would."""
    frame = pd.read_csv(path).iloc[rows]
    part = path.with_name(f"{path.stem}-{rows.start}-{rows.stop}.csv")
    frame.to_csv(part, index=False)
    ingest_file(context, IngestRequest(path=part, series=series))


def database(backend: str, request: pytest.FixtureRequest, tmp_path: Path, label: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / label}.db"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database(label)


def migrated(url: str, directory: Path, **pipeline: Any) -> AppContext:
    directory.mkdir(exist_ok=True)
    settings = load_config(write_config(directory, url, **pipeline))
    context = open_context(settings, require_schema=False)
    from forecaster.db import migrate

    migrate.upgrade(context.engine)
    return context


def backfill_reference(url: str, tmp_path: Path, names: str | list[str] = "s") -> None:
    """The rows one uninterrupted backfill writes, in database `url`, of series `names`, each
    read from tmp_path/<name>.csv (by default one series: s)."""
    reference = migrated(url, tmp_path / "reference")
    try:
        for name in names if isinstance(names, list) else [names]:
            ingest_file(reference, IngestRequest(path=tmp_path / f"{name}.csv", series=name))
        assert not run_pipeline(reference, None, kind="backfill").failed
    finally:
        reference.close()


# --- pure parts -------------------------------------------------------------------------------


def test_cycle_time_is_the_latest_fire_time() -> None:
    now = datetime(2026, 11, 23, 16, 7, 31, 500000, tzinfo=UTC)
    assert cycle_time(interval_trigger("1min"), now) == datetime(2026, 11, 23, 16, 7, tzinfo=UTC)
    assert cycle_time(interval_trigger("7s"), now).second == 26  # aligned to 2000-01-01
    every_15 = cron_trigger("*/15 * * * *")
    assert cycle_time(every_15, now) == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    weekly = cron_trigger("0 3 * * 1")  # Mondays 03:00, as crontab(5) reads it
    assert cycle_time(weekly, now) == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    assert cycle_time(weekly, now - timedelta(hours=14)) == datetime(2026, 11, 16, 3, tzinfo=UTC)


def test_cutoffs_follow_the_schedule_and_the_extra_models() -> None:
    # initial 100, every 50: steps 101..150 use cut-off 100, 151..200 cut-off 150.
    assert cutoff_for(90, 100, 50, [100]) == (None, 100)
    assert cutoff_for(101, 100, 50, [100]) == (100, 150)
    assert cutoff_for(151, 100, 50, [100, 150]) == (150, 200)
    # A drift model at step 120 takes over after it, until the next scheduled cut-off.
    assert cutoff_for(110, 100, 50, [100, 120]) == (100, 120)
    assert cutoff_for(121, 100, 50, [100, 120]) == (120, 150)
    assert cutoff_for(151, 100, 50, [100, 120, 150]) == (150, 200)


def test_the_scheduler_never_overlaps_a_long_job_and_coalesces_missed_runs() -> None:
    scheduler = make_scheduler(misfire_grace_seconds=30)
    spans: list[tuple[float, float]] = []
    running = threading.Lock()
    overlapped = threading.Event()

    def slow_cycle() -> None:
        if not running.acquire(blocking=False):
            overlapped.set()
            return
        started = time.monotonic()
        time.sleep(1.2)  # longer than the 0.3 s interval
        spans.append((started, time.monotonic()))
        running.release()

    scheduler.add_job(slow_cycle, "interval", seconds=0.3, id="slow")
    scheduler.start()
    time.sleep(4.0)
    scheduler.shutdown(wait=True)
    assert not overlapped.is_set()
    assert 2 <= len(spans) <= 4  # ~13 fire times, coalesced into back-to-back runs
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end


# --- cycles in process --------------------------------------------------------------------


def test_daemon_cycles_write_the_same_rows_as_one_backfill(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv", n=900)
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    reference_url = database(backend, request, tmp_path, "reference")
    backfill_reference(reference_url, tmp_path)

    context = migrated(db_url, tmp_path / "daemon")
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        # New points arrive in batches of every size, one cycle after each.
        start = 0
        for k, stop in enumerate((150, 230, 231, 260, 500, 501, 640, 900)):
            load_rows(context, tmp_path / "s.csv", "s", slice(start, stop))
            report = cycles.detect("default", CYCLE + timedelta(minutes=k))
            assert report.failed == 0 and report.aborted is None and report.series == 1
            start = stop
        assert len(cycles.memory) == 1  # later cycles read only new points: the same rows
        with context.engine.connect() as connection:
            steps = connection.execute(text("SELECT max(step) FROM forecasts")).scalar()
            fresh = connection.execute(
                text(
                    "SELECT count(*) FROM forecasts WHERE issued_at = (SELECT max(last_ts) FROM "
                    "watermarks)"
                )
            ).scalar()
    finally:
        context.close()
    assert scored_rows(db_url) == scored_rows(reference_url)
    assert steps == 3 and fresh == 3  # fresh forecasts for the whole horizon


def per_series_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """`scored_rows` of several series, told apart by name."""
    queries = {
        "anomalies": "SELECT s.name, a.ts, a.observed, a.predicted, a.residual, a.threshold, "
        "a.score, a.severity, a.direction FROM anomalies a JOIN series s ON s.id = a.series_id "
        "ORDER BY s.name, a.ts",
        "events": "SELECT s.name, e.start_ts, e.end_ts, e.peak_ts, e.peak_score, e.n_points, "
        "e.direction FROM anomaly_events e JOIN series s ON s.id = e.series_id "
        "ORDER BY s.name, e.start_ts",
        "one_step": "SELECT s.name, f.issued_at, f.ts, f.predicted FROM forecasts f "
        "JOIN series s ON s.id = f.series_id JOIN watermarks w ON w.series_id = f.series_id "
        "WHERE f.step = 1 AND f.ts <= w.last_ts ORDER BY s.name, f.ts",
        "watermarks": "SELECT s.name, w.last_ts FROM watermarks w JOIN series s "
        "ON s.id = w.series_id ORDER BY s.name",
    }
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = {k: [tuple(r) for r in connection.execute(text(q))] for k, q in queries.items()}
    engine.dispose()
    return rows


def test_batched_cycles_over_several_series_write_what_backfill_writes(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Series claimed together are read in one transaction and written in another; one that
    # needs a catch-up goes on alone. Every series' rows are still its backfill's rows.
    write_series(tmp_path / "a.csv", n=800)
    frame = pd.read_csv(tmp_path / "a.csv")
    frame.assign(value=frame["value"] * 1.5 + 3).to_csv(tmp_path / "b.csv", index=False)
    frame.assign(value=frame["value"][::-1].to_numpy()).to_csv(tmp_path / "c.csv", index=False)
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    reference_url = database(backend, request, tmp_path, "reference")
    backfill_reference(reference_url, tmp_path, ["a", "b", "c"])

    context = migrated(db_url, tmp_path / "daemon")
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        loaded = dict.fromkeys("abc", 0)
        # (a, b, c) rows present after each cycle: one point, several, none, a long backlog.
        for k, stops in enumerate(
            [
                (300, 250, 0),
                (301, 260, 0),
                (302, 260, 210),
                (420, 261, 211),
                (421, 262, 700),
                (800, 800, 800),
            ]
        ):
            for name, stop in zip("abc", stops, strict=True):
                if stop > loaded[name]:
                    load_rows(context, tmp_path / f"{name}.csv", name, slice(loaded[name], stop))
                    loaded[name] = stop
            report = cycles.detect("default", CYCLE + timedelta(minutes=k))
            assert report.failed == 0 and report.aborted is None, report.errors
    finally:
        context.close()
    assert per_series_rows(db_url) == per_series_rows(reference_url)


def test_catch_up_after_downtime_processes_the_backlog_in_chunks(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv", n=1300)
    context = migrated(db_url, tmp_path / "daemon")
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        load_rows(context, tmp_path / "s.csv", "s", slice(0, 400))
        cycles.detect("default", CYCLE)
        # Down for a long time: 900 points arrive; the first cycle after takes them all.
        load_rows(context, tmp_path / "s.csv", "s", slice(400, 1300))
        report = cycles.detect("default", CYCLE + timedelta(hours=6))
        assert report.points == 900 and report.failed == 0
        with context.engine.connect() as connection:
            mark = connection.execute(text("SELECT last_ts FROM watermarks")).scalar()
            runs = connection.execute(
                text(
                    "SELECT series_count, points_read, status, cycle_at FROM pipeline_runs "
                    "WHERE kind = 'daemon-detect' ORDER BY id"
                )
            ).all()
        assert str(mark).startswith("2024-05-14 12:45")
        assert [(r[0], r[1], r[2]) for r in runs] == [(1, 200, "ok"), (1, 900, "ok")]
        # The same cycle again finds the series done: leases mark it for this cycle.
        assert cycles.detect("default", CYCLE + timedelta(hours=6)).series == 0
    finally:
        context.close()


def test_a_bad_series_is_recorded_and_the_others_go_on(db_url: str, tmp_path: Path) -> None:
    write_series(tmp_path / "s.csv", n=500)
    pd.DataFrame(
        {"timestamp": pd.date_range("2024-05-01", periods=400, freq="h"), "value": 1.0}
    ).to_csv(tmp_path / "flat.csv", index=False)
    context = migrated(db_url, tmp_path / "daemon")
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="good"))
        ingest_file(context, IngestRequest(path=tmp_path / "flat.csv", series="flat"))
        report = Cycles(context, clock=lambda: CYCLE).detect("default", CYCLE)
        with context.engine.connect() as connection:
            run = connection.execute(
                text("SELECT status, series_count, series_failed, error FROM pipeline_runs")
            ).one()
    finally:
        context.close()
    assert report.series == 2 and report.failed == 1 and report.points == 300
    assert run[:3] == ("partial", 2, 1) and "flat: " in run[3] and "constant" in run[3]


def test_drift_retrains_at_the_watermark_and_later_points_use_the_new_model(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv", n=700)
    frame = pd.read_csv(tmp_path / "s.csv")
    frame.loc[450:, "value"] = frame.loc[450:, "value"] * 3 - 20  # the process changes
    frame.to_csv(tmp_path / "s.csv", index=False)
    context = migrated(
        db_url,
        tmp_path / "daemon",
        training={
            "initial_points": 200,
            "retrain_every": 5000,
            "drift_window": 100,
            "drift_factor": 1.5,
        },
    )
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        pipeline = context.settings.pipeline(None)
        load_rows(context, tmp_path / "s.csv", "s", slice(0, 440))
        cycles.detect("default", CYCLE)
        before = drift_ratio(context, pipeline, "s")
        assert before is not None and before < 1.5
        assert cycles.retrain("default", CYCLE, scheduled=False).models_trained == 0
        load_rows(context, tmp_path / "s.csv", "s", slice(440, 600))
        cycles.detect("default", CYCLE + timedelta(minutes=1))
        after = drift_ratio(context, pipeline, "s")
        assert after is not None and after > 1.5
        retrained = cycles.retrain("default", CYCLE + timedelta(minutes=1), scheduled=False)
        assert retrained.models_trained == 1
        assert not retrain_series(context, pipeline, "s", reason="again")  # nothing new
        load_rows(context, tmp_path / "s.csv", "s", slice(600, 700))
        cycles.detect("default", CYCLE + timedelta(minutes=2))
        with context.engine.connect() as connection:
            versions = connection.execute(
                text(
                    "SELECT v.version, min(f.ts), max(f.ts) FROM forecasts f JOIN "
                    "model_versions v ON v.id = f.model_version_id WHERE f.step = 1 "
                    "GROUP BY v.version ORDER BY v.version"
                )
            ).all()
    finally:
        context.close()
    assert [v[0] for v in versions] == [1, 2]
    # Version 2 (cut-off at the watermark of point 599) scores every later point.
    assert str(versions[1][1]).startswith(str(frame.loc[600, "timestamp"])[:16])


def test_a_dead_replicas_series_go_to_the_others_when_its_lease_expires(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv", n=300)
    context = migrated(db_url, tmp_path / "daemon")
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        survivor = Cycles(context, replica="survivor", clock=lambda: CYCLE)
        assert survivor.detect("default", CYCLE).series == 1  # creates the lease rows
        # A replica claims the series for the next cycle and dies without releasing it.
        with context.sessions.begin() as session:
            claimed = claim_series(
                session=session,
                pipeline="default",
                job="detect",
                cycle_at=CYCLE + timedelta(minutes=1),
                owner="dead",
                now=CYCLE,
                lease_until=CYCLE + timedelta(seconds=600),
            )
        assert claimed == [1]
        # While the lease lives, nobody else takes the series ...
        assert survivor.detect("default", CYCLE + timedelta(minutes=2)).series == 0
        # ... once it has expired, the next cycle does.
        later = Cycles(context, replica="survivor", clock=lambda: CYCLE + timedelta(minutes=11))
        assert later.detect("default", CYCLE + timedelta(minutes=11)).series == 1
    finally:
        context.close()


def test_a_database_outage_mid_cycle_loses_nothing(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: PostgresServer = request.getfixturevalue("pg_server")
    write_series(tmp_path / "s.csv", n=1300)
    reference_url = server.create_database("outage_reference")
    backfill_reference(reference_url, tmp_path)

    real_url = server.create_database("outage")
    proxy = TcpProxy(5432)
    proxied = real_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert proxied != real_url
    context = migrated(proxied, tmp_path / "daemon")
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        cycles = Cycles(context, clock=lambda: CYCLE)
        outcome: list[Any] = []
        worker = threading.Thread(target=lambda: outcome.append(cycles.detect("default", CYCLE)))
        worker.start()
        wait_for(lambda: count_rows(real_url, "forecasts") >= 300, timeout=180)
        proxy.cut()  # the database goes away mid-cycle ...
        time.sleep(3)
        proxy.restore()  # ... and comes back
        worker.join(timeout=300)
        assert outcome and outcome[0].aborted is None and outcome[0].failed == 0
    finally:
        context.close()
        proxy.close()
    assert proxy.cuts == 1
    assert scored_rows(real_url) == scored_rows(reference_url)


def test_an_outage_while_a_claim_is_written_retries_the_claim_and_loses_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database goes away at the moment a claim's rows are sent (several series in one
    # transaction): the transaction is lost whole, the claim is read and written again.
    from pipelines.detect.sink import DatabaseSink

    server: PostgresServer = request.getfixturevalue("pg_server")
    write_series(tmp_path / "a.csv", n=330)
    frame = pd.read_csv(tmp_path / "a.csv")
    frame.assign(value=frame["value"] * 2 - 7).to_csv(tmp_path / "b.csv", index=False)
    reference_url = server.create_database("claim_reference")
    backfill_reference(reference_url, tmp_path, ["a", "b"])

    real_url = server.create_database("claim_outage")
    proxy = TcpProxy(5432)
    context = migrated(
        real_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"), tmp_path / "daemon"
    )
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        for name in "ab":
            load_rows(context, tmp_path / f"{name}.csv", name, slice(0, 320))
        assert cycles.detect("default", CYCLE).failed == 0
        for name in "ab":
            load_rows(context, tmp_path / f"{name}.csv", name, slice(320, 330))
        write = DatabaseSink.write
        sent: list[int] = []

        def write_during_an_outage(self: Any, rows: Any) -> None:
            if not sent:  # the first time only: cut, and come back two seconds later
                proxy.cut()
                threading.Timer(2.0, proxy.restore).start()
            sent.append(sum(r.watermark is not None for r in rows))
            write(self, rows)

        monkeypatch.setattr(DatabaseSink, "write", write_during_an_outage)
        report = cycles.detect("default", CYCLE + timedelta(minutes=1))
    finally:
        context.close()
        proxy.close()
    assert report.aborted is None and report.failed == 0 and report.series == 2
    assert report.points == 20  # counted once, though scored twice
    assert sent[0] == 2 and sum(sent) >= 4  # both series in the lost transaction, then again
    assert per_series_rows(real_url) == per_series_rows(reference_url)


# --- the real daemon process ---------------------------------------------------------------


def test_sigterm_mid_cycle_exits_cleanly_and_leaves_consistent_tables(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv", n=1300)
    work = tmp_path / "daemon"
    work.mkdir()
    write_config(work, db_url, schedule={"every": "1h"})
    run_cli("ingest", str(tmp_path / "s.csv"), "--series", "s", cwd=work)
    process = start_daemon(work)
    try:
        wait_for(lambda: count_rows(db_url, "forecasts") >= 200, timeout=180, process=process)
        process.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        assert process.wait(timeout=60) == 0
        assert time.monotonic() - stopped_at < 30
    finally:
        if process.poll() is None:
            process.kill()
    log = (work / "daemon.log").read_text()
    assert "received SIGTERM" in log and "daemon" in log and "stopped" in log
    engine = create_engine(db_url)
    with engine.connect() as connection:
        mark = connection.execute(text("SELECT last_ts FROM watermarks")).scalar()
        beyond = connection.execute(
            text("SELECT count(*) FROM forecasts WHERE step = 1 AND ts > :m"), {"m": mark}
        ).scalar()
        status = connection.execute(text("SELECT status FROM pipeline_runs")).scalar()
    engine.dispose()
    assert mark is not None and str(mark) < "2024-05-14 12:45"  # stopped before the end
    assert beyond == 0 and status == "stopped"
    # Finishing the work with a backfill gives what one uninterrupted backfill gives.
    run_cli("backfill", cwd=work)
    assert len(scored_rows(db_url)["one_step"]) == 1300 - 200


def test_two_replicas_on_postgresql_process_each_series_once_per_cycle(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: PostgresServer = request.getfixturevalue("pg_server")
    url = server.create_database("replicas")
    work = tmp_path / "replicas"
    work.mkdir()
    write_config(work, url, schedule={"every": "2s"})
    run_cli("db", "upgrade", cwd=work)
    write_series(tmp_path / "s.csv", n=400)
    names = [f"s{k}" for k in range(6)]
    for name in names:
        run_cli("ingest", str(tmp_path / "s.csv"), "--series", name, cwd=work)
    replicas = [start_daemon(work, log_name=f"replica{k}.log") for k in range(2)]
    try:
        # The first cycles train a model per series; afterwards cycles are short.
        wait_for(
            lambda: count_rows(url, "model_versions") == len(names),
            timeout=180,
            process=replicas[0],
        )
        trained_at = datetime.now(UTC)
        time.sleep(10)
    finally:
        for process in replicas:
            process.send_signal(signal.SIGTERM)
        for process in replicas:
            assert process.wait(timeout=60) == 0
    engine = create_engine(url)
    with engine.connect() as connection:
        cycles = connection.execute(
            text(
                "SELECT cycle_at, sum(series_count), count(DISTINCT replica), "
                "bool_and(status IN ('ok', 'stopped')) FROM pipeline_runs "
                "WHERE kind = 'daemon-detect' GROUP BY cycle_at ORDER BY cycle_at"
            )
        ).all()
        replicas_seen = connection.execute(
            text("SELECT count(DISTINCT replica) FROM pipeline_runs")
        ).scalar()
        models = connection.execute(text("SELECT count(*) FROM model_versions")).scalar()
    engine.dispose()
    assert replicas_seen == 2
    # No series twice in one cycle ...
    assert all(total <= len(names) for _, total, _, _ in cycles), cycles
    # ... and once training is done, every cycle takes every series once (a replica busy
    # training may hold back series it claimed, which the next cycle then takes).
    later = [c for c in cycles if c[0] > trained_at + timedelta(seconds=2)]
    assert len(later) >= 3, cycles
    assert all(total == len(names) for _, total, _, _ in later[:-1]), cycles
    assert models == len(names)  # each series trained once, by one replica


def test_the_daemon_keeps_up_with_new_observations(tmp_path: Path) -> None:
    work = tmp_path / "daemon"
    work.mkdir()
    write_config(work, f"sqlite:///{tmp_path / 'live.db'}", schedule={"every": "1s"})
    run_cli("db", "upgrade", cwd=work)
    write_series(tmp_path / "s.csv", n=500)
    frame = pd.read_csv(tmp_path / "s.csv")
    frame.iloc[:400].to_csv(tmp_path / "first.csv", index=False)
    frame.iloc[400:].to_csv(tmp_path / "more.csv", index=False)
    run_cli("ingest", str(tmp_path / "first.csv"), "--series", "s", cwd=work)
    url = f"sqlite:///{tmp_path / 'live.db'}"
    process = start_daemon(work)
    try:
        wait_for(lambda: count_rows(url, "forecasts") >= 200, timeout=120, process=process)
        # A producer appends observations while the daemon runs.
        run_cli("ingest", str(tmp_path / "more.csv"), "--series", "s", cwd=work)
        wait_for(lambda: count_rows(url, "forecasts") >= 303, timeout=60, process=process)
        time.sleep(1.5)
        status = run_cli("status", cwd=work).stdout
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    row = next(line for line in status.splitlines() if line.startswith("│ s "))
    assert "2024-05-06 04:45:00" in row and " 0s " in row, status
    engine = create_engine(url)
    with engine.connect() as connection:
        fresh = connection.execute(
            text("SELECT count(*) FROM forecasts WHERE issued_at = '2024-05-06 04:45:00.000000'")
        ).scalar()
    engine.dispose()
    assert fresh == 3  # forecasts for the next horizon steps after the newest point


def test_a_cycle_with_stored_models_never_loads_tensorflow(tmp_path: Path) -> None:
    # Scoring reads weights.npz in numpy: a daemon restarted over trained series starts fast
    # and small. Only training needs TensorFlow.
    work = tmp_path / "daemon"
    work.mkdir()
    write_config(work, f"sqlite:///{tmp_path / 'db.sqlite'}")
    run_cli("db", "upgrade", cwd=work)
    write_series(tmp_path / "s.csv", n=500)
    frame = pd.read_csv(tmp_path / "s.csv")
    frame.iloc[:300].to_csv(tmp_path / "first.csv", index=False)
    frame.iloc[300:350].to_csv(tmp_path / "more.csv", index=False)
    run_cli("ingest", str(tmp_path / "first.csv"), "--series", "s", cwd=work)
    run_cli("backfill", cwd=work)
    run_cli("ingest", str(tmp_path / "more.csv"), "--series", "s", cwd=work)
    script = (
        "import sys, threading\n"
        "from forecaster.config.loading import load_config\n"
        "from pipelines.context import open_context\n"
        "from pipelines.daemon.scheduler import run_once\n"
        "context = open_context(load_config('config.yaml'))\n"
        "[report] = run_once(context, context.settings.pipelines, stop=threading.Event())\n"
        "print(report.points, report.failed, report.models_trained,\n"
        "      'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")}
    result = subprocess.run(
        [str(FORECASTER.with_name("python")), "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["50", "0", "0", "False", "False"], result.stdout


def test_a_second_daemon_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    work = tmp_path / "daemon"
    work.mkdir()
    write_config(work, f"sqlite:///{tmp_path / 'one.db'}", schedule={"every": "1h"})
    run_cli("db", "upgrade", cwd=work)
    first = start_daemon(work)
    try:
        wait_for(lambda: "started" in (work / "daemon.log").read_text(), 60, process=first)
        second = run_cli("daemon", cwd=work, check=False, timeout=60)
        assert second.returncode == 1
        assert "already running" in second.stderr and "one daemon per database" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0


# --- helpers ----------------------------------------------------------------------------------


def start_daemon(work: Path, log_name: str = "daemon.log") -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")}
    log = open(work / log_name, "wb")  # noqa: SIM115 - closed by the child's exit
    return subprocess.Popen(
        [str(FORECASTER), "daemon"], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def count_rows(url: str, table: str) -> int:
    """Rows in one of the service's tables (0 while the database is unreachable)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


def wait_for(
    condition: Any, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the daemon exited early with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the daemon")
        time.sleep(0.05)


class TcpProxy:
    """A local TCP forwarder to a port; `cut` drops every connection and refuses new ones
    (the database 'goes away'), `restore` accepts again."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        self.accepting = True
        self.cuts = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.accepting:
                client.close()  # connection refused, as far as the client can tell
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cuts += 1
        self._drop_all()

    def _drop_all(self) -> None:
        self.accepting = False
        with self.lock:
            for s in self.open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.open.clear()

    def restore(self) -> None:
        self.accepting = True

    def close(self) -> None:
        self.closed = True
        self._drop_all()
        self.listener.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_status_shows_zero_lag_after_a_cycle(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = database(backend, request, tmp_path, "status")
    work = tmp_path / "status"
    work.mkdir()
    write_config(work, url)
    run_cli("db", "upgrade", cwd=work)
    write_series(tmp_path / "s.csv", n=400)
    run_cli("ingest", str(tmp_path / "s.csv"), "--series", "s", cwd=work)
    before = run_cli("status", cwd=work).stdout
    assert "never run" in before and "s " in before
    run_cli("daemon", "--once", cwd=work)
    after = run_cli("status", cwd=work).stdout
    row = next(line for line in after.splitlines() if line.startswith("│ s "))
    assert "2024-05-05 03:45:00" in row and " 0s " in row and "v1" in row
