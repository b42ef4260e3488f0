"""The real daemon process on real databases with tiny real models: graceful stop, replicas
sharing series by leases, keeping up with new observations, no TensorFlow for stored models,
one daemon per SQLite file, `forecaster status` after a cycle."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from tests.helpers.cli import FORECASTER, run_cli
from tests.helpers.daemon import count_rows, start_daemon, wait_for
from tests.helpers.databases import BACKENDS, PostgresServer, database
from tests.helpers.series import scored_rows, write_config, write_series


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
