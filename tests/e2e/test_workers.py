"""`forecaster backfill --workers 2` through the CLI: the same rows as one process, on SQLite
and PostgreSQL; a series another process holds the lease of is waited for, not shared, so
two backfills of one series at once train each cut-off's model once."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from tests.helpers.cli import FORECASTER, run_cli
from tests.helpers.databases import BACKENDS, PostgresServer, database
from tests.helpers.series import query_rows, wait_for_forecasts, write_config

SERIES = ("alpha", "beta", "gamma")


def write_three(directory: Path) -> list[Path]:
    """Three seasonal series of 900 points, each with its own noise and a spike."""
    paths = []
    for k, name in enumerate(SERIES):
        rng = np.random.default_rng(20 + k)
        t = np.arange(900)
        values = 10 + (2 + k) * np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.2, t.size)
        values[600 + 50 * k : 603 + 50 * k] += 6.0
        index = pd.date_range("2024-05-01", periods=t.size, freq="15min")
        path = directory / f"{name}.csv"
        pd.DataFrame({"timestamp": index, "value": values}).to_csv(path, index=False)
        paths.append(path)
    return paths


def rows_by_series(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a backfill writes, keyed by series name (ids and wall-clock times left out)."""
    queries = {
        "anomalies": "SELECT s.name, a.ts, a.predicted, a.residual, a.score, a.rule "
        "FROM anomalies a JOIN series s ON s.id = a.series_id ORDER BY s.name, a.ts",
        "events": "SELECT s.name, e.start_ts, e.end_ts, e.peak_score, e.n_points "
        "FROM anomaly_events e JOIN series s ON s.id = e.series_id ORDER BY s.name, e.start_ts",
        "forecasts": "SELECT s.name, f.issued_at, f.ts, f.step, f.predicted "
        "FROM forecasts f JOIN series s ON s.id = f.series_id ORDER BY s.name, f.issued_at, f.ts",
        "watermarks": "SELECT s.name, w.last_ts FROM watermarks w "
        "JOIN series s ON s.id = w.series_id ORDER BY s.name",
        "models": "SELECT s.name, m.version, m.trained_to FROM model_versions m "
        "JOIN series s ON s.id = m.series_id ORDER BY s.name, m.version",
        "leases": "SELECT owner, lease_until FROM series_leases WHERE owner IS NOT NULL",
    }
    return query_rows(url, queries)


def prepared(work: Path, url: str, data: list[Path], **pipeline: Any) -> Path:
    work.mkdir()
    write_config(work, url, **pipeline)
    run_cli("db", "upgrade", cwd=work)
    for path in data:
        run_cli("ingest", str(path), "--series", path.stem, cwd=work)
    return work


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_workers_write_the_rows_of_one_process(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    data = write_three(tmp_path)
    results = {}
    for label, extra in (("one", ()), ("two", ("--workers", "2"))):
        url = database(backend, request, tmp_path, label)
        work = prepared(tmp_path / label, url, data)
        finished = run_cli("backfill", *extra, cwd=work)
        for name in SERIES:
            assert name in finished.stdout
        results[label] = rows_by_series(url)
        assert not results[label]["leases"], "every lease is given back"
        again = run_cli("backfill", *extra, cwd=work)  # nothing left to do
        assert rows_by_series(url) == results[label], again.stdout
    assert {name for name, *_ in results["one"]["watermarks"]} == set(SERIES)
    assert results["one"]["events"], "the spikes are found"
    assert results["two"] == results["one"]


def test_a_leased_series_waits_for_its_holder_then_reports_it_busy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    data = write_three(tmp_path)[:1]
    work = prepared(tmp_path / "busy", url, data)
    config = work / "config.yaml"
    config.write_text(config.read_text() + "executor:\n  lease_wait_seconds: 2\n")
    until = datetime.now(UTC) + timedelta(minutes=5)
    engine = create_engine(url)
    with engine.begin() as connection:  # a daemon replica is working on the series
        series_id = connection.execute(text("SELECT id FROM series")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO series_leases (pipeline, series_id, owner, lease_until) "
                "VALUES ('default', :id, 'replica host-1:42', :until)"
            ),
            {"id": series_id, "until": until.strftime("%Y-%m-%d %H:%M:%S.%f")},
        )
    engine.dispose()
    busy = run_cli("backfill", cwd=work, check=False)
    assert busy.returncode == 1
    assert "being processed by replica host-1:42" in busy.stdout + busy.stderr
    assert not rows_by_series(url)["watermarks"], "nothing written beside the holder"


def test_two_backfills_of_one_series_at_once_train_each_cut_off_once(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    data = write_three(tmp_path)[:1]
    one = pg_server.create_database("alone")
    run_cli("backfill", cwd=prepared(tmp_path / "alone", one, data))
    url = pg_server.create_database("twice")
    work = prepared(tmp_path / "twice", url, data)
    first = subprocess.Popen(
        [str(FORECASTER), "backfill"], cwd=work, stdout=subprocess.PIPE, text=True
    )
    wait_for_forecasts(url, 1, running=lambda: first.poll() is None)
    second = run_cli("backfill", cwd=work)  # waits for the first one's lease, then resumes
    first_output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, first_output
    assert "ok" in second.stdout
    rows = rows_by_series(url)
    assert rows == rows_by_series(one)
    assert len({trained_to for _, _, trained_to in rows["models"]}) == len(rows["models"])
