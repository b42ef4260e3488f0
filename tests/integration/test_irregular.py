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
from tests.helpers.databases import database
from tests.helpers.irregular import write_irregular
from tests.helpers.series import scored_rows
from tests.integration.test_daemon_cycles import backfill_reference, load_rows, migrated

CYCLE = datetime(2030, 1, 1, tzinfo=UTC)


def stored_grid(url: str) -> tuple[str, datetime]:
    engine = create_engine(url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT frequency, grid_origin FROM series")).one()
    engine.dispose()
    return row[0], pd.Timestamp(row[1])


def test_daemon_cycles_on_jittered_gappy_data_write_what_one_backfill_writes(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    raw = write_irregular(tmp_path / "s.csv")
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    reference_url = database(backend, request, tmp_path, "reference")
    backfill_reference(reference_url, tmp_path)

    context = migrated(db_url, tmp_path / "daemon")
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        # Batches of raw rows: some split a burst (one bin) across two cycles.
        start = 0
        for k, stop in enumerate((150, 230, 231, 300, 520, 521, 700, len(raw))):
            load_rows(context, tmp_path / "s.csv", "s", slice(start, stop))
            report = cycles.detect("default", CYCLE + timedelta(minutes=k))
            assert report.failed == 0 and report.aborted is None
            start = stop
    finally:
        context.close()
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
