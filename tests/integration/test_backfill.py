"""Backfill on a real database with tiny real models: idempotent, chunking-free, resumable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from forecaster.config.loading import load_config
from forecaster.db.session import transaction
from pipelines.context import open_context
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from tests.helpers.series import (
    SPIKE_AT,
    clear_results,
    snapshot,
    write_config,
    write_series,
)


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


def test_a_constant_series_waits_for_a_change_and_the_others_go_on(
    db_url: str, tmp_path: Path
) -> None:
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
    # Not an error: a flat-lined sensor is watched for its first change, and trained after.
    flat = by_name["flat"]
    assert (
        flat.ok
        and flat.points_scored == 0
        and flat.notes == ["not scored yet: constant at 1 so far (a change is reported)"]
    )


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
