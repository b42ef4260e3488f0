"""Backfill through the CLI, killed with SIGKILL mid-run and resumed: the same tables as one
uninterrupted run, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers.cli import FORECASTER, run_cli
from tests.helpers.databases import BACKENDS, PostgresServer
from tests.helpers.series import snapshot, wait_for_forecasts, write_config, write_series


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_nine_and_resume_gives_the_same_tables(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    def database(label: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / label}.db"
        server: PostgresServer = request.getfixturevalue("pg_server")
        return server.create_database(label)

    write_series(tmp_path / "s.csv")
    results = {}
    for label in ("killed", "straight"):
        url = database(label)
        work = tmp_path / label
        work.mkdir()
        write_config(work, url)
        run_cli("db", "upgrade", cwd=work)
        run_cli("ingest", str(tmp_path / "s.csv"), "--series", "s", cwd=work)
        if label == "killed":
            kill_after_first_commits(work, url)
            partial = snapshot(url)
            assert partial["watermarks"] and len(partial["forecasts"]) < 1300
        finished = run_cli("backfill", cwd=work)
        assert "ok" in finished.stdout
        results[label] = snapshot(url)
        assert "0" in run_cli("backfill", cwd=work).stdout  # nothing left to do
        assert snapshot(url) == results[label]
    assert results["killed"] == results["straight"]


def kill_after_first_commits(work: Path, url: str) -> None:
    """Start a backfill and SIGKILL it once some chunks (not all) have committed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")}
    process = subprocess.Popen(
        [str(FORECASTER), "backfill"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_forecasts(url, 300, running=lambda: process.poll() is None)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def test_redetect_through_the_cli_redoes_anomalies_without_retraining(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    write_series(tmp_path / "s.csv")
    write_config(tmp_path, url)
    run_cli("db", "upgrade", cwd=tmp_path)
    run_cli("ingest", str(tmp_path / "s.csv"), "--series", "s", cwd=tmp_path)
    run_cli("backfill", cwd=tmp_path)
    before = snapshot(url)
    assert before["anomalies"], "the spike is found"

    # Much stricter detection: fewer anomalies; forecasts, models and the watermark untouched.
    write_config(tmp_path, url, detection={"min_score": 0.9999999, "range": {"enabled": False}})
    redone = run_cli("redetect", "--series", "s", cwd=tmp_path)
    assert "redetect of pipeline" in redone.stdout and "ok" in redone.stdout
    after = snapshot(url)
    assert len(after["anomalies"]) < len(before["anomalies"])
    for table in ("forecasts", "watermarks", "models"):
        assert after[table] == before[table], table

    missing = run_cli("redetect", "--series", "nope", cwd=tmp_path, check=False)
    assert missing.returncode == 1 and "'nope'" in missing.stderr
    bad_start = run_cli("redetect", "--start", "yesterday-ish", cwd=tmp_path, check=False)
    assert bad_start.returncode == 1 and "--start" in bad_start.stderr
