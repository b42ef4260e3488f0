"""A tiny pipeline config, a seasonal series with one spike, and snapshots of the rows written."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sqlalchemy import create_engine, text

TINY_PIPELINE: dict[str, Any] = {
    "name": "default",
    # Tiny networks trained 3 epochs do not always beat the last value: without the fallback
    # the tests run the network's paths (tests/integration/test_persistence.py runs it).
    "model": {
        "units": 8,
        "window": 16,
        "horizon": 3,
        "epochs": 3,
        "max_train_samples": 64,
        "persistence_fallback": None,
    },
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


def clear_results(url: str, model_dir: Path) -> None:
    """Remove every row a pipeline wrote and its model files (the ingested points stay)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in ("anomalies", "anomaly_events", "forecasts", "watermarks", "model_versions"):
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
    shutil.rmtree(model_dir, ignore_errors=True)


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the pipeline writes, without ids, run ids and wall-clock times."""
    queries = {
        "anomalies": "SELECT ts, observed, predicted, residual, threshold, score, severity, "
        "direction, rule FROM anomalies ORDER BY ts",
        "events": "SELECT start_ts, end_ts, peak_ts, peak_score, n_points, direction, severity "
        "FROM anomaly_events ORDER BY start_ts",
        "forecasts": "SELECT issued_at, ts, step, predicted, lower, upper FROM forecasts "
        "ORDER BY issued_at, ts",
        "watermarks": "SELECT last_ts FROM watermarks",
        "models": "SELECT version, trained_from, trained_to FROM model_versions ORDER BY version",
    }
    return query_rows(url, queries)


def scored_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Anomalies, events, one-step predictions and watermarks (what backfill also writes)."""
    queries = {
        "anomalies": "SELECT ts, observed, predicted, residual, threshold, score, severity, "
        "direction, rule FROM anomalies ORDER BY ts",
        "events": "SELECT start_ts, end_ts, peak_ts, peak_score, n_points, direction, severity "
        "FROM anomaly_events ORDER BY start_ts",
        "one_step": "SELECT issued_at, ts, predicted FROM forecasts WHERE step = 1 "
        "AND ts <= (SELECT max(last_ts) FROM watermarks) ORDER BY ts",
        "watermarks": "SELECT last_ts FROM watermarks",
    }
    return query_rows(url, queries)


def query_rows(url: str, queries: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    """Each query's rows as tuples, by the query's name."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = {k: [tuple(r) for r in connection.execute(text(q))] for k, q in queries.items()}
    engine.dispose()
    return rows


def wait_for_forecasts(url: str, minimum: int, *, running: Callable[[], bool]) -> None:
    """Return once `forecasts` holds `minimum` rows (some chunks committed); fail when the
    process (`running()` false) ends first or 240 s pass."""
    engine = create_engine(url)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                scored = connection.execute(text("SELECT count(*) FROM forecasts")).scalar()
            if scored and scored >= minimum:
                return
            if not running():
                raise AssertionError("the run finished before it could be interrupted")
            time.sleep(0.05)
        raise AssertionError(f"fewer than {minimum} forecasts were committed within 240 s")
    finally:
        engine.dispose()
