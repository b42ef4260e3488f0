"""Ingest and read throughput: a synthetic CSV into SQLite and PostgreSQL, first load and reload.

Run from the repository root: python -m bench.ingest [--rows 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import fresh_database, machine, peak_rss_mib
from forecaster.config.database import DatabaseSettings
from forecaster.config.settings import Settings
from forecaster.db.repo.observations import read_observations
from forecaster.db.repo.series import get_series
from pipelines.context import open_context
from pipelines.jobs.ingest import IngestRequest, ingest_file


def write_csv(path: Path, rows: int) -> None:
    index = pd.date_range("2020-01-01", periods=rows, freq="min", tz="UTC")
    values = np.sin(np.arange(rows) / 60) + np.random.default_rng(0).normal(0, 0.1, rows)
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(
        path, index=False
    )


def measure(backend: str, csv: Path, rows: int, runs: int, workdir: Path) -> dict[str, float]:
    def one_run() -> tuple[float, float, float]:
        with fresh_database(backend, workdir) as url:
            context = open_context(Settings(database=DatabaseSettings(url=url)))
            try:
                request = IngestRequest(path=csv, series="bench")
                started = time.perf_counter()
                ingest_file(context, request)
                first = time.perf_counter() - started
                started = time.perf_counter()
                ingest_file(context, request)
                reload = time.perf_counter() - started
                started = time.perf_counter()
                with context.sessions() as session:
                    series = get_series(session=session, name="bench")
                    points = read_observations(session=session, series_id=series.id)
                read = time.perf_counter() - started
                assert len(points) == rows
            finally:
                context.close()
        return first, reload, read

    results = [one_run() for _ in range(runs)]
    first, reload, read = (statistics.median(r[i] for r in results) for i in range(3))
    return {
        "first_load_rows_per_s": rows / first,
        "reload_rows_per_s": rows / reload,
        "read_points_per_s": rows / read,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        csv = workdir / "points.csv"
        write_csv(csv, args.rows)
        figures = {
            backend: measure(backend, csv, args.rows, args.runs, workdir)
            for backend in args.backends.split(",")
        }
    report = {
        "benchmark": "ingest",
        "rows": args.rows,
        "runs": args.runs,
        "machine": machine(),
        "results": figures,
        "peak_rss_mib": round(peak_rss_mib()),
    }
    print(json.dumps(report, indent=2))
    print(
        f"\n| backend | first load rows/s | reload rows/s | read points/s |  ({args.rows} rows,"
        f" median of {args.runs})"
    )
    print("|---|---|---|---|")
    for backend, f in figures.items():
        print(
            f"| {backend} | {f['first_load_rows_per_s']:,.0f} | {f['reload_rows_per_s']:,.0f} | "
            f"{f['read_points_per_s']:,.0f} |"
        )


if __name__ == "__main__":
    main()
