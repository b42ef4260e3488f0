"""Three small seasonal series with spikes in CSV files, a CLI work directory for them, and
their rows by series name: for the tests of backfills on several workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tests.helpers.cli import run_cli
from tests.helpers.series import query_rows, write_config

SERIES = ("alpha", "beta", "gamma")
POINTS = 700  # the tiny pipeline trains at 200 and retrains at 600: two models each


def write_three(directory: Path) -> list[Path]:
    """Three seasonal series of POINTS points, each with its own noise and a spike."""
    paths = []
    for k, name in enumerate(SERIES):
        rng = np.random.default_rng(20 + k)
        t = np.arange(POINTS)
        values = 10 + (2 + k) * np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.2, t.size)
        values[400 + 50 * k : 403 + 50 * k] += 6.0
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
