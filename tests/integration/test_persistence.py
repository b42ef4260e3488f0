"""A pipeline whose networks lose to the last value forecasts the last value, the same way
in a backfill and in daemon cycles."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from forecaster.config.loading import load_config
from pipelines.context import open_context
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from tests.helpers.series import (
    SPIKE_AT,
    TINY_PIPELINE,
    clear_results,
    snapshot,
    write_config,
    write_series,
)

# A network must be 100 times better than the last value to be used: none is.
STRICT = {**TINY_PIPELINE["model"], "persistence_fallback": 0.01}


def test_versions_that_fall_back_forecast_the_last_value_in_backfill_and_daemon(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv")
    config = load_config(write_config(tmp_path, db_url, model=STRICT))
    context = open_context(config)
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        result = run_pipeline(context, None, kind="backfill")
        assert not result.failed and result.reports[0].models_trained == 3
    finally:
        context.close()
    engine = create_engine(db_url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT metrics FROM model_versions")).scalars().all()
        metrics = [json.loads(m) if isinstance(m, str) else m for m in stored]  # SQLite: text
        assert [m["forecast"] for m in metrics] == ["persistence"] * 3
        values = pd.Series(
            dict(connection.execute(text("SELECT ts, value FROM observations")).all())
        ).sort_index()
        rows = connection.execute(
            text("SELECT ts, predicted FROM forecasts WHERE step = 1 ORDER BY ts")
        ).all()
    engine.dispose()
    previous = values.shift(1)
    assert len(rows) > 1000
    for ts, predicted in rows:
        # One step ahead: the reading before (through the scaler and back: to an ulp).
        assert predicted == pytest.approx(previous[ts], rel=1e-12)
    first = snapshot(db_url)
    spike = pd.Timestamp("2024-05-01", tz="UTC") + SPIKE_AT * pd.Timedelta("15min")
    starts = [pd.Timestamp(str(e[0])[:19], tz="UTC") for e in first["events"]]
    assert any(abs(s - spike) <= pd.Timedelta("1h") for s in starts), starts

    # Daemon cycles over the same points (no network state to carry): the same rows.
    clear_results(db_url, tmp_path / "models")
    context = open_context(load_config(write_config(tmp_path, db_url, model=STRICT)))
    try:
        for until in ("2024-05-03 10:00", "2024-05-09 00:00", None):
            cut = None if until is None else pd.Timestamp(until, tz="UTC").to_pydatetime()
            assert not run_pipeline(context, None, kind="daemon", end=cut).failed
    finally:
        context.close()
    assert snapshot(db_url) == first
