"""End-to-end backfill throughput beside the bare network rate of the same model, same run.

`--series` synthetic 5-minute series of `--points` points are bulk-loaded; a template series is
backfilled for real (it trains the model of its first walk-forward cut-off) and that model is
copied to every series. `retrain_every` is set to the series length, so one model scores each
series and the measured backfill trains nothing (checked: `models_trained` is 0).

Measured, per repeat and backend: `pipelines.backfill.run_pipeline` over the series (read from
the database, regularise, network pass, residuals and threshold, write forecasts, anomalies,
events and watermarks, one transaction per chunk), in a fresh context whose network is built
and traced beforehand, as in a running process, but whose models are read from disk. Beside it,
the bare rate: the same model scoring the same series whole in sequence mode, one network pass
per series (the network alone: bench.scoring's `sequence_scoring`). Between repeats the
backfill's rows and watermarks are deleted. Backfill points/s counts scored points (the first
`initial_points` of each series are warm-up, read but not scored); bare points/s, every point.

Run from the repository root: python -m bench.backfill [--series 100] [--points 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import machine, markdown_table, peak_rss_mib
from bench.fixtures import (
    PIPELINE,
    TEMPLATE,
    add_size_options,
    forget_backfill,
    opened,
    prepared_database,
    timed_backfill,
)
from bench.scoring import sequence_scoring
from forecaster.config.settings import Settings
from forecaster.db.repo.observations import read_observations
from forecaster.db.repo.series import get_series
from forecaster.db.session import transaction
from forecaster.series.regular import RegularSeries, regularize
from pipelines.detect.source import DatabaseSource

BACKENDS = ("sqlite", "postgresql")


def read_series(settings: Settings, names: list[str]) -> tuple[list[RegularSeries], int]:
    """The series as the pipeline sees them (read and regularised, not timed), and how many of
    their points come after the (one) training cut-off: what the backfill must score."""
    with opened(settings) as context, transaction(context.sessions) as session:
        raw = [
            read_observations(
                session=session, series_id=get_series(session=session, name=n).id
            ).rename(n)
            for n in names
        ]
        state = DatabaseSource(session, PIPELINE, context.source(PIPELINE)).state(TEMPLATE)
        (cutoff,) = state.chain
    series = [regularize(r, "5min", 3) for r in raw]
    return series, sum(int((s.steps > cutoff).sum()) for s in series)


def bare_rate(settings: Settings, series: list[RegularSeries]) -> tuple[int, float]:
    """Points and seconds of the template's model scoring the series whole, one network pass
    each (bench.scoring's sequence-mode figure, with whatever scorer that benchmark uses)."""
    with opened(settings) as context:
        stored = context.models.load_latest(PIPELINE, TEMPLATE)
        sequence_scoring(stored.model, series[:1])  # warm up once outside the timing
        started = time.perf_counter()
        sequence_scoring(stored.model, series)
        return sum(len(s) for s in series), time.perf_counter() - started


def backfill_once(settings: Settings, names: list[str], warm_up: RegularSeries) -> dict[str, Any]:
    """One measured backfill of `names` in a fresh context (TensorFlow loaded and the scorer
    warmed up first, as in a running process)."""
    with opened(settings) as context:
        stored = context.models.load_latest(PIPELINE, TEMPLATE)  # loads TensorFlow
        sequence_scoring(stored.model, [warm_up])  # warm up once outside the timing
        run = timed_backfill(context, names)
    assert not run["failed"], run["failed"][:3]
    return run


def measure(backend: str, series: int, points: int, repeats: int, workdir: Path) -> dict[str, Any]:
    with prepared_database(backend, workdir, series, points) as (settings, prepared):
        batch, expected = read_series(settings, prepared.names)
        runs = []
        for k in range(repeats):
            if k:
                forget_backfill(settings, prepared.names)
            bare_points, bare_seconds = bare_rate(settings, batch)
            run = backfill_once(settings, prepared.names, batch[0])
            assert run["models_trained"] == 0, f"the measured backfill trained: {run}"
            assert run["points_scored"] == expected, (run, expected)
            run["bare_points_per_s"] = bare_points / bare_seconds
            run["backfill_points_per_s"] = run["points_scored"] / run["seconds"]
            run["ratio"] = run["backfill_points_per_s"] / run["bare_points_per_s"]
            print(
                f"  {backend} run {k + 1}: backfill {run['backfill_points_per_s']:,.0f} points/s "
                f"({run['seconds']:.1f} s, {run['models_trained']} models trained), bare "
                f"network {run['bare_points_per_s']:,.0f} points/s, ratio {run['ratio']:.2f}",
                flush=True,
            )
            runs.append(run)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    return {
        "backend": backend,
        "series": series,
        "points_per_series": points,
        "points_scored": runs[0]["points_scored"],
        "models_trained": max(r["models_trained"] for r in runs),
        "backfill_points_per_s": median("backfill_points_per_s"),
        "bare_points_per_s": median("bare_points_per_s"),
        "ratio": median("ratio"),
        "backfill_seconds": median("seconds"),
        "setup_seconds": prepared.phase_seconds(),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_size_options(parser, series=100, points=10_000, repeats=3)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="forecaster-bench-") as scratch:
        figures = [
            measure(backend, args.series, args.points, args.repeats, Path(scratch))
            for backend in args.backends.split(",")
        ]
    report = {
        "benchmark": "backfill",
        "measured": "run_pipeline over pre-trained series (0 models trained): read, score, "
        "threshold, write; beside the same model scoring the same series in sequence mode "
        "(bench.scoring.sequence_scoring)",
        "machine": machine(),
        "repeats": args.repeats,
        "results": figures,
        "peak_rss_mib": round(peak_rss_mib()),
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, indent=2))
    print(f"\nmedian of {args.repeats} runs")
    rows = [
        [
            f["backend"],
            f"{f['series']} x {f['points_per_series']:,}",
            f"{f['backfill_points_per_s']:,.0f}",
            f"{f['bare_points_per_s']:,.0f}",
            f"{f['ratio']:.2f}",
        ]
        for f in figures
    ]
    headers = ["backend", "series x points", "backfill points/s", "bare network points/s", "ratio"]
    print(markdown_table(headers, rows))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
