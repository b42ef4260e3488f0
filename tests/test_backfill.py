"""Backfill on a real database with tiny real models: idempotent, chunking-free, resumable."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import create_engine, text

from forecaster.config.loading import load_config
from forecaster.db.session import transaction
from pipelines.context import open_context
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from tests.cli_helpers import FORECASTER, run_cli
from tests.conftest import BACKENDS, PostgresServer

TINY_PIPELINE: dict[str, Any] = {
    "name": "default",
    "model": {"units": 8, "window": 16, "horizon": 3, "epochs": 3, "max_train_samples": 64},
    "training": {"initial_points": 200, "retrain_every": 400},
    "detection": {
        "scorer": {"window": 200, "min_history": 50},
        "threshold": {"window": 200, "refit_every": 25, "min_history": 50},
    },
    "backfill_chunk": 150,
}
SPIKE_AT = 1000


def write_config(directory: Path, url: str, **pipeline: Any) -> Path:
    config = {
        "database": {"url": url},
        "model_dir": "models",
        "pipelines": [{**TINY_PIPELINE, **pipeline}],
    }
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def write_series(path: Path, n: int = 1300) -> None:
    rng = np.random.default_rng(11)
    t = np.arange(n)
    values = 10 + 2 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.2, n)
    values[SPIKE_AT : SPIKE_AT + 3] += 6.0
    index = pd.date_range("2024-05-01", periods=n, freq="15min")
    pd.DataFrame({"timestamp": index, "value": values}).to_csv(path, index=False)


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the pipeline writes, without ids, run ids and wall-clock times."""
    queries = {
        "anomalies": "SELECT ts, observed, predicted, residual, threshold, score, severity, "
        "direction FROM anomalies ORDER BY ts",
        "events": "SELECT start_ts, end_ts, peak_ts, peak_score, n_points, direction, severity "
        "FROM anomaly_events ORDER BY start_ts",
        "forecasts": "SELECT issued_at, ts, step, predicted, lower, upper FROM forecasts "
        "ORDER BY issued_at, ts",
        "watermarks": "SELECT last_ts FROM watermarks",
        "models": "SELECT version, trained_from, trained_to FROM model_versions ORDER BY version",
    }
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = {k: [tuple(r) for r in connection.execute(text(q))] for k, q in queries.items()}
    engine.dispose()
    return rows


def clear_results(url: str, model_dir: Path) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in ("anomalies", "anomaly_events", "forecasts", "watermarks", "model_versions"):
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
    shutil.rmtree(model_dir, ignore_errors=True)


def test_backfill_finds_the_spike_is_idempotent_and_independent_of_chunking(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv")
    context = open_context(load_config(write_config(tmp_path, db_url)))
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        result = run_pipeline(context, None, kind="backfill")
        assert not result.failed
        report = result.reports[0]
        assert report.points_read == 1300 and report.models_trained == 3
        assert report.points_scored > 1000 and report.anomalies > 0
        first = snapshot(db_url)
        spike = pd.Timestamp("2024-05-01", tz="UTC") + SPIKE_AT * pd.Timedelta("15min")
        starts = [pd.Timestamp(str(e[0])[:19], tz="UTC") for e in first["events"]]
        assert any(abs(s - spike) <= pd.Timedelta("1h") for s in starts), starts
        assert len(first["forecasts"]) == report.points_scored

        again = run_pipeline(context, None, kind="backfill")
        assert again.reports[0].points_read == 0
        assert snapshot(db_url) == first

        # The daemon's way: whatever is new at each cycle, in big chunks; same rows.
        clear_results(db_url, tmp_path / "models")
    finally:
        context.close()
    context = open_context(load_config(write_config(tmp_path, db_url, backfill_chunk=5000)))
    try:
        for until in ("2024-05-03 10:00", "2024-05-09 00:00", "2024-05-10 12:00", None):
            cut = None if until is None else pd.Timestamp(until, tz="UTC").to_pydatetime()
            assert not run_pipeline(context, None, kind="daemon", end=cut).failed
        with transaction(context.sessions) as session:
            runs = session.execute(text("SELECT count(*) FROM pipeline_runs")).scalar()
        assert runs == 6
    finally:
        context.close()
    assert snapshot(db_url) == first


def test_a_bad_series_is_reported_and_the_others_go_on(db_url: str, tmp_path: Path) -> None:
    write_series(tmp_path / "s.csv", n=500)
    pd.DataFrame(
        {"timestamp": pd.date_range("2024-05-01", periods=400, freq="h"), "value": 1.0}
    ).to_csv(tmp_path / "flat.csv", index=False)
    context = open_context(load_config(write_config(tmp_path, db_url)))
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="good"))
        ingest_file(context, IngestRequest(path=tmp_path / "flat.csv", series="flat"))
        result = run_pipeline(context, None, kind="backfill")
    finally:
        context.close()
    by_name = {r.series: r for r in result.reports}
    assert by_name["good"].ok and by_name["good"].points_scored > 0
    assert "constant" in (by_name["flat"].error or "")


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
    engine = create_engine(url)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                scored = connection.execute(text("SELECT count(*) FROM forecasts")).scalar()
            if scored and scored >= 300:
                break
            if process.poll() is not None:
                raise AssertionError("the backfill finished before it could be killed")
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        engine.dispose()
        if process.poll() is None:
            process.kill()


def test_chunked_reads_cross_a_gap_longer_than_a_chunk(db_url: str, tmp_path: Path) -> None:
    # Each chunk reads about one chunk past the watermark; a hole of 400 steps (more than a
    # chunk of 150) right after a watermark must not end the backfill early.
    rng = np.random.default_rng(5)
    index = pd.date_range("2024-05-01", periods=1700, freq="15min")
    keep = np.r_[0:800, 1200:1700]
    values = 10 + 2 * np.sin(2 * np.pi * np.arange(1700) / 96) + rng.normal(0, 0.2, 1700)
    frame = pd.DataFrame({"timestamp": index[keep], "value": values[keep]})
    frame.to_csv(tmp_path / "g.csv", index=False)
    results = []
    for chunk in (150, 5000):
        context = open_context(load_config(write_config(tmp_path, db_url, backfill_chunk=chunk)))
        try:
            if chunk == 150:
                ingest_file(context, IngestRequest(path=tmp_path / "g.csv", series="g"))
            result = run_pipeline(context, None, kind="backfill")
        finally:
            context.close()
        assert not result.failed and result.reports[0].points_read == 1300
        rows = snapshot(db_url)
        assert str(rows["watermarks"][0][0])[:16] == str(index[1699])[:16]
        results.append(rows)
        clear_results(db_url, tmp_path / "models")
    assert results[0] == results[1]
