"""Jittered, gappy, bursty timestamps: daemon cycles and backfills of any chunking agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from pipelines.daemon.cycles import Cycles
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from pipelines.jobs.status import pipeline_status
from tests.helpers.databases import database
from tests.helpers.irregular import write_irregular
from tests.helpers.pipelines import backfill_reference, load_rows, migrated
from tests.helpers.series import scored_rows

CYCLE = datetime(2030, 1, 1, tzinfo=UTC)


def stored_grid(url: str) -> tuple[str, datetime]:
    engine = create_engine(url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT frequency, grid_origin FROM series")).one()
    engine.dispose()
    return row[0], pd.Timestamp(row[1])


def daemon_and_backfill(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path, stops: tuple[int, ...]
) -> str:
    """Feed tmp_path/s.csv to daemon cycles in db_url, the rows up to each of `stops` before
    one cycle each; the URL of a database holding one backfill of the whole file."""
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    reference_url = database(backend, request, tmp_path, "reference")
    backfill_reference(reference_url, tmp_path)
    context = migrated(db_url, tmp_path / "daemon")
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        start = 0
        for k, stop in enumerate(stops):
            load_rows(context, tmp_path / "s.csv", "s", slice(start, stop))
            report = cycles.detect("default", CYCLE + timedelta(minutes=k))
            assert report.failed == 0 and report.aborted is None
            start = stop
    finally:
        context.close()
    return reference_url


def test_daemon_cycles_on_jittered_gappy_data_write_what_one_backfill_writes(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    raw = write_irregular(tmp_path / "s.csv")
    # Batches of raw rows: some split a burst (one bin) across two cycles.
    reference_url = daemon_and_backfill(
        db_url, request, tmp_path, (150, 230, 231, 300, 520, 521, 700, len(raw))
    )
    daemon_rows, reference_rows = scored_rows(db_url), scored_rows(reference_url)
    assert daemon_rows == reference_rows
    assert len(reference_rows["one_step"]) > 400  # both segments are scored
    frequency, origin = stored_grid(db_url)
    assert frequency == "5min" and stored_grid(reference_url) == (frequency, origin)
    # The stored forecasts lie on the grid of the stored origin.
    times = pd.DatetimeIndex([pd.Timestamp(r[1]) for r in reference_rows["one_step"]])
    assert ((times - origin) % pd.Timedelta("5min") == pd.Timedelta(0)).all()


def test_backfills_in_different_chunks_write_the_same_rows(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    write_irregular(tmp_path / "s.csv")
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    reference_url = database(backend, request, tmp_path, "reference")
    backfill_reference(reference_url, tmp_path)
    context = migrated(db_url, tmp_path / "chunked", backfill_chunk=37)
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        assert not run_pipeline(context, None, kind="backfill").failed
    finally:
        context.close()
    assert scored_rows(db_url) == scored_rows(reference_url)


def write_values(
    path: Path, values: list[float] | pd.Series, keep: list[bool] | None = None
) -> None:
    index = pd.date_range("2024-05-01", periods=len(values), freq="15min")
    frame = pd.DataFrame({"timestamp": index, "value": list(values)})
    frame = frame[keep] if keep is not None else frame
    frame.to_csv(path, index=False)


def seasonal(n: int, seed: int = 3) -> pd.Series:
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.Series(10 + 2 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.2, n))


def test_a_series_with_only_short_runs_between_gaps_is_scored(db_url: str, tmp_path: Path) -> None:
    # Runs of 30 points (the model needs 35 in one run) with 10 missing points between them.
    n = 1200
    keep = [(i % 40) < 30 for i in range(n)]
    write_values(tmp_path / "s.csv", seasonal(n), keep)
    context = migrated(db_url, tmp_path / "gappy")
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        outcome = run_pipeline(context, None, kind="backfill")
    finally:
        context.close()
    assert not outcome.failed
    (report,) = outcome.reports
    # Every run after the first cut-off is scored once the network warmed up on it (16 points).
    assert report.points_scored > 300 and report.models_trained >= 1


def test_a_flat_start_is_monitored_its_change_reported_and_daemon_equals_backfill(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    values = seasonal(900)
    values[:300] = -1.0  # a sensor that sits at -1, then comes alive
    write_values(tmp_path / "s.csv", values)
    reference_url = daemon_and_backfill(db_url, request, tmp_path, (250, 290, 301, 420, 560, 900))
    rows = scored_rows(reference_url)
    assert scored_rows(db_url) == rows
    departure = pd.Timestamp("2024-05-01", tz="UTC") + 300 * pd.Timedelta("15min")
    first = rows["anomalies"][0]
    assert pd.Timestamp(first[0]).tz_localize(None) == departure.tz_localize(None)
    assert first[5] == 1.0 and first[2] == -1.0 and first[8] == "flat_start"
    assert len(rows["one_step"]) > 300  # scored once 200 points followed the flat start


def test_status_says_why_a_series_is_not_scored_yet(db_url: str, tmp_path: Path) -> None:
    write_values(tmp_path / "flat.csv", [2.5] * 400)
    write_values(tmp_path / "short.csv", list(seasonal(120)))
    context = migrated(db_url, tmp_path / "status")
    try:
        for name in ("flat", "short"):
            ingest_file(context, IngestRequest(path=tmp_path / f"{name}.csv", series=name))
        assert not run_pipeline(context, None, kind="backfill").failed
        (pipeline,) = pipeline_status(context)
    finally:
        context.close()
    notes = {s.series: (s.error, s.note) for s in pipeline.series}
    assert notes["flat"] == (None, "not scored yet: constant at 2.5 so far (a change is reported)")
    assert notes["short"] == (
        None,
        "waiting for history: 120 of 200 points needed before the first model",
    )
