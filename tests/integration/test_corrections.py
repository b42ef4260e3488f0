"""Late and corrected observations behind the watermark are re-scored: no stale rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from pipelines.context import AppContext
from pipelines.daemon.cycles import Cycles
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from tests.helpers.databases import database
from tests.helpers.pipelines import migrated
from tests.helpers.series import scored_rows

CYCLE = datetime(2030, 1, 1, tzinfo=UTC)
N, SPIKE = 900, 700  # walk-forward cut-offs at 200 and 600: one model scores 601..900


def values(spike: bool = True) -> np.ndarray:
    rng = np.random.default_rng(21)
    t = np.arange(N)
    v = 10 + 2 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.2, N)
    if spike:
        v[SPIKE : SPIKE + 3] += 8.0
    return v


def write(path: Path, v: np.ndarray, rows: np.ndarray | slice = slice(None)) -> Path:
    index = pd.date_range("2024-05-01", periods=N, freq="15min")
    pd.DataFrame({"timestamp": index, "value": v}).iloc[rows].to_csv(path, index=False)
    return path


def run(context: AppContext, runner: str, k: int) -> None:
    if runner == "backfill":
        assert not run_pipeline(context, None, kind="backfill").failed
    else:
        report = Cycles(context, clock=lambda: CYCLE).detect("default", CYCLE + timedelta(hours=k))
        assert report.failed == 0 and report.aborted is None


def reference(db_url: str, request: pytest.FixtureRequest, tmp_path: Path, v: np.ndarray) -> str:
    """The rows of one backfill of the final data."""
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    url = database(backend, request, tmp_path, "reference")
    context = migrated(url, tmp_path / "reference")
    try:
        ingest_file(context, IngestRequest(path=write(tmp_path / "final.csv", v), series="s"))
        run(context, "backfill", 0)
    finally:
        context.close()
    return url


def anomaly_times(url: str) -> list[pd.Timestamp]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT ts FROM anomalies ORDER BY ts")).all()
    engine.dispose()
    return [pd.Timestamp(r[0]).tz_localize(None) for r in rows]


SPIKE_TS = pd.Timestamp("2024-05-01") + SPIKE * pd.Timedelta("15min")


def near_spike(url: str) -> list[pd.Timestamp]:
    """Anomalies within three hours from the spike's start (the spike and its tail)."""
    return [t for t in anomaly_times(url) if SPIKE_TS <= t <= SPIKE_TS + pd.Timedelta("3h")]


@pytest.mark.parametrize("runner", ["backfill", "daemon"])
def test_a_corrected_spike_leaves_no_stale_anomaly(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path, runner: str
) -> None:
    reference_url = reference(db_url, request, tmp_path, values(spike=False))
    context = migrated(db_url, tmp_path / "corrected")
    try:
        ingest_file(context, IngestRequest(path=write(tmp_path / "s.csv", values()), series="s"))
        run(context, runner, 0)
        assert near_spike(db_url)
        fixed = write(tmp_path / "fix.csv", values(spike=False), np.arange(SPIKE, SPIKE + 3))
        report = ingest_file(context, IngestRequest(path=fixed, series="s"))
        assert report.counts.updated == 3
        run(context, runner, 1)
    finally:
        context.close()
    assert not near_spike(db_url)
    assert scored_rows(db_url) == scored_rows(reference_url)


def test_points_that_arrive_late_into_a_gap_are_scored(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    v = values()
    reference_url = reference(db_url, request, tmp_path, v)
    hole = np.arange(640, 660)
    context = migrated(db_url, tmp_path / "late")
    try:
        first = write(tmp_path / "s.csv", v, np.setdiff1d(np.arange(N), hole))
        ingest_file(context, IngestRequest(path=first, series="s"))
        run(context, "daemon", 0)
        ingest_file(context, IngestRequest(path=write(tmp_path / "late.csv", v, hole), series="s"))
        run(context, "daemon", 1)
    finally:
        context.close()
    assert scored_rows(db_url) == scored_rows(reference_url)


def test_corrections_older_than_the_limit_are_stored_but_not_rescored(
    db_url: str, tmp_path: Path
) -> None:
    context = migrated(db_url, tmp_path / "limited", preprocess={"rescore_limit": 50})
    try:
        ingest_file(context, IngestRequest(path=write(tmp_path / "s.csv", values()), series="s"))
        run(context, "backfill", 0)
        fixed = write(tmp_path / "fix.csv", values(spike=False), np.arange(SPIKE, SPIKE + 3))
        ingest_file(context, IngestRequest(path=fixed, series="s"))
        outcome = run_pipeline(context, None, kind="backfill")
    finally:
        context.close()
    assert near_spike(db_url)  # 200 steps back: beyond the limit of 50
    (report,) = outcome.reports
    assert report.notes and report.notes[0].startswith("re-scored from 2024-05-09T20:14:59")
