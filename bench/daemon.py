"""A daemon cycle over many series with one new point each (models trained beforehand).

One series is backfilled for real (shipped default settings); its rows and model files are
then copied to the other series, so every series has a full scoring context and stored models
without hours of training. Each cycle appends one point per series and runs the daemon's
detection cycle; the figures are seconds per cycle (first cycle: models read from disk; later
cycles: from the process cache) and the share of time in the database, the network and the
detection maths.

Run from the repository root: python -m bench.daemon [--series 1000] [--cycles 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, text

from bench.common import fresh_database, machine, markdown_table, peak_rss_mib
from bench.fixtures import FREQUENCY, START, clone_models, grid, synthetic, train_template
from forecaster.config.database import DatabaseSettings
from forecaster.config.pipeline import PipelineSettings
from forecaster.config.settings import Settings
from forecaster.db.repo.observations import upsert_observations
from forecaster.db.repo.series import create_series
from forecaster.db.session import transaction
from forecaster.db.types import UTCDateTime
from forecaster.detection.decide import Detector
from pipelines.context import AppContext, open_context
from pipelines.daemon.cycles import Cycles
from pipelines.detect import step

HISTORY = 6000  # points per series: more than the scoring context a cycle reads (~4,300)


@contextmanager
def timed(totals: dict[str, float], key: str, module: Any, name: str) -> Iterator[None]:
    """Accumulate the time spent in module.name while the block runs."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - started

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def build(context: AppContext, series: int) -> list[int]:
    """Backfill one series for real, then copy its rows and models to `series - 1` others."""
    with transaction(context.sessions) as session:
        row = create_series(session=session, name="s0000", kind="sensor", frequency="5min")
        upsert_observations(
            session=session, series_id=row.id, points=pd.Series(synthetic(HISTORY), grid(HISTORY))
        )
    template = train_template(context, None, "s0000")
    print(f"  template series backfilled in {template.seconds:.1f} s", flush=True)
    started = time.perf_counter()
    names = [f"s{k:04d}" for k in range(1, series)]
    with context.engine.begin() as connection:
        for name in names:
            connection.execute(
                text(
                    "INSERT INTO series (name, kind, frequency, created_at) "
                    "SELECT :n, kind, frequency, created_at FROM series WHERE id = 1"
                ),
                {"n": name},
            )
        ids = [r[0] for r in connection.execute(text("SELECT id FROM series ORDER BY id"))]
        clones = "SELECT id FROM series WHERE id > 1"
        connection.execute(
            text(
                f"INSERT INTO observations (series_id, ts, value) SELECT s.id, o.ts, o.value "
                f"FROM observations o, ({clones}) s WHERE o.series_id = 1"
            )
        )
        connection.execute(
            text(
                f"INSERT INTO watermarks (pipeline, series_id, last_ts, updated_at) "
                f"SELECT w.pipeline, s.id, w.last_ts, w.updated_at FROM watermarks w, ({clones}) s "
                f"WHERE w.series_id = 1"
            )
        )
    clone_models(context, "default", "s0000", names)
    with context.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO forecasts (pipeline, series_id, issued_at, ts, step, predicted, "
                "lower, upper, model_version_id, created_at) "
                "SELECT f.pipeline, s.id, f.issued_at, f.ts, "
                "f.step, f.predicted, f.lower, f.upper, mv.id, f.created_at FROM forecasts f "
                f"CROSS JOIN ({clones}) s JOIN model_versions m0 ON m0.id = f.model_version_id "
                f"JOIN model_versions mv ON mv.series_id = s.id AND mv.version = m0.version "
                f"WHERE f.series_id = 1"
            )
        )
    print(f"  copied to {len(names)} more series in {time.perf_counter() - started:.1f} s")
    return ids


def append_point(
    context: AppContext, ids: list[int], at: pd.Timestamp, seed: int, spike_every: int = 0
) -> None:
    """One new point per series (with a spike in every `spike_every`-th series, if set)."""
    values = 20 + np.random.default_rng(seed).normal(0, 0.4, len(ids))
    if spike_every:
        values[::spike_every] += 15.0
    with context.engine.begin() as connection:
        rows = [
            {"s": s, "t": at.to_pydatetime(), "v": float(v)}
            for s, v in zip(ids, values, strict=True)
        ]
        # Times bound through the column type, stored as ingest stores them.
        insert = text("INSERT INTO observations (series_id, ts, value) VALUES (:s, :t, :v)")
        connection.execute(insert.bindparams(bindparam("t", type_=UTCDateTime())), rows)


def measure(backend: str, series: int, cycles: int, workdir: Path) -> dict[str, Any]:
    model_dir = workdir / f"models-{backend}"
    with fresh_database(backend, workdir) as url:
        settings = Settings(
            database=DatabaseSettings(url=url),
            model_dir=model_dir,
            pipelines=[PipelineSettings(name="default")],
        )
        context = open_context(settings)
        try:
            ids = build(context, series)
            runner = Cycles(context, clock=lambda: datetime.now(UTC))
            results = []
            for k in range(cycles + 1):
                at = START + (HISTORY + k) * FREQUENCY
                append_point(context, ids, at, seed=k)
                totals = {"network": 0.0, "detection": 0.0}
                with (
                    timed(totals, "network", step, "one_step_predictions"),
                    timed(totals, "network", step, "predict_and_forecast"),
                    timed(totals, "network", step, "forecast_next"),
                    timed(totals, "detection", Detector, "decide"),
                ):
                    started = time.perf_counter()
                    cycle_at = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=k)
                    report = runner.detect("default", cycle_at)
                    seconds = time.perf_counter() - started
                assert report.series == series and report.failed == 0, report
                assert report.points == series, report
                rest = seconds - totals["network"] - totals["detection"]
                results.append({"seconds": seconds, **totals, "database_and_rest": rest})
                label = "cold (models from disk)" if k == 0 else "warm"
                print(
                    f"  cycle {k}: {seconds:.2f} s {label}; network {totals['network']:.2f} s, "
                    f"detection {totals['detection']:.2f} s, database+rest {rest:.2f} s",
                    flush=True,
                )
        finally:
            context.close()
            shutil.rmtree(model_dir, ignore_errors=True)
    warm = results[1:]

    def median(key: str) -> float:
        return statistics.median(r[key] for r in warm)

    return {
        "backend": backend,
        "series": series,
        "cold_cycle_seconds": results[0]["seconds"],
        "warm_cycle_seconds_median": median("seconds"),
        "share_network": median("network") / median("seconds"),
        "share_detection": median("detection") / median("seconds"),
        "share_database_and_rest": median("database_and_rest") / median("seconds"),
    }


Measure = Callable[[str, int, int, Path], dict[str, Any]]
Row = Callable[[dict[str, Any]], list[str]]


def run_cycle_bench(
    description: str, cycles_help: str, measure: Measure, headers: list[str], row: Row
) -> None:
    """The command line of a daemon-cycle benchmark (this one and bench.operations): each
    backend measured in turn, then the machine, a markdown table and the optional JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=3, help=cycles_help)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="forecaster-bench-") as scratch:
        for backend in backends:
            print(f"{backend}: {args.series} series, one new point each", flush=True)
            figures.append(measure(backend, args.series, args.cycles, Path(scratch)))
    print(f"\nmachine: {machine()}; peak RSS {peak_rss_mib():,.0f} MiB")
    print(markdown_table(headers, [row(f) for f in figures]))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "figures": figures}, indent=2))


def main() -> None:
    headers = [
        "backend",
        "series",
        "first cycle (s)",
        "cycle, median (s)",
        "network",
        "detection",
        "database + rest",
    ]

    def row(f: dict[str, Any]) -> list[str]:
        return [
            f["backend"],
            str(f["series"]),
            f"{f['cold_cycle_seconds']:.1f}",
            f"{f['warm_cycle_seconds_median']:.1f}",
            f"{f['share_network']:.0%}",
            f"{f['share_detection']:.0%}",
            f"{f['share_database_and_rest']:.0%}",
        ]

    run_cycle_bench(__doc__ or "", "Warm cycles (median reported).", measure, headers, row)


if __name__ == "__main__":
    main()
