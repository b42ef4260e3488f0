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

from bench.common import fresh_database, machine, markdown_table, peak_rss_mib
from bench.fixtures import PIPELINE, TEMPLATE, forget_backfill, one_model_settings, prepare
from bench.scoring import sequence_scoring
from forecaster.config import Settings
from forecaster.db import repository
from forecaster.db.session import transaction
from forecaster.timeseries import RegularSeries, regularize
from pipelines.backfill import run_pipeline
from pipelines.context import open_context
from pipelines.detect import cutoff_chain

BACKENDS = ("sqlite", "postgresql")


def read_series(settings: Settings, names: list[str]) -> list[RegularSeries]:
    """The series as the pipeline sees them: read and regularised (not timed)."""
    context = open_context(settings)
    try:
        with transaction(context.sessions) as session:
            raw = [
                repository.read_observations(
                    session=session, series_id=repository.get_series(session=session, name=n).id
                ).rename(n)
                for n in names
            ]
    finally:
        context.close()
    return [regularize(r, "5min", 3) for r in raw]


def bare_rate(settings: Settings, series: list[RegularSeries]) -> tuple[int, float]:
    """Points and seconds of the template's model scoring the series whole, one network pass
    each (bench.scoring's sequence-mode figure, with whatever scorer that benchmark uses)."""
    context = open_context(settings)
    try:
        stored = context.models.load_latest(PIPELINE, TEMPLATE)
        network = context.models.network_for(settings.pipeline(PIPELINE).model)
        sequence_scoring(stored.model, network, series[:1])  # trace once outside the timing
        started = time.perf_counter()
        sequence_scoring(stored.model, network, series)
        return sum(len(s) for s in series), time.perf_counter() - started
    finally:
        context.close()


def scored_points(settings: Settings, series: list[RegularSeries]) -> int:
    """Points after each series' (one) training cut-off: what the backfill must score."""
    context = open_context(settings)
    try:
        with transaction(context.sessions) as session:
            template = repository.get_series(session=session, name=TEMPLATE)
            (cutoff,) = cutoff_chain(session, PIPELINE, template.id)  # one model per series
    finally:
        context.close()
    return sum(int((s.steps > cutoff).sum()) for s in series)


def backfill_once(settings: Settings, names: list[str], warm_up: RegularSeries) -> dict[str, Any]:
    """One measured backfill of `names` in a fresh context (network built and traced first)."""
    context = open_context(settings)
    try:
        stored = context.models.load_latest(PIPELINE, TEMPLATE)
        network = context.models.network_for(settings.pipeline(PIPELINE).model)
        sequence_scoring(stored.model, network, [warm_up])  # trace once outside the timing
        started = time.perf_counter()
        result = run_pipeline(context, PIPELINE, kind="backfill", names=names)
        seconds = time.perf_counter() - started
    finally:
        context.close()
    assert not result.failed, result.failed[:3]
    reports = result.reports
    return {
        "seconds": seconds,
        "points_read": sum(r.points_read for r in reports),
        "points_scored": sum(r.points_scored for r in reports),
        "anomalies": sum(r.anomalies for r in reports),
        "models_trained": sum(r.models_trained for r in reports),
    }


def measure(backend: str, series: int, points: int, repeats: int, workdir: Path) -> dict[str, Any]:
    model_dir = workdir / f"models-{backend}"
    with fresh_database(backend, workdir) as url:
        settings = one_model_settings(url, model_dir, points)
        context = open_context(settings)
        try:
            prepared = prepare(context, series, points)
        finally:
            context.close()
        print(
            f"  {backend}: loaded {prepared.rows:,} points in {prepared.load_seconds:.1f} s, "
            f"template trained in {prepared.train_seconds:.1f} s, model copied to {series} "
            f"series in {prepared.clone_seconds:.1f} s",
            flush=True,
        )
        batch = read_series(settings, prepared.names)
        expected = scored_points(settings, batch)
        runs = []
        for k in range(repeats):
            if k:
                context = open_context(settings)
                try:
                    forget_backfill(context, prepared.names)
                finally:
                    context.close()
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
        "setup_seconds": {
            "load": prepared.load_seconds,
            "train_template": prepared.train_seconds,
            "copy_models": prepared.clone_seconds,
        },
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--points", type=int, default=10_000, help="Points per series.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per backend (median).")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
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
        "threshold, write; beside one_step_predictions of the same model on the same points",
        "machine": machine(),
        "repeats": args.repeats,
        "results": figures,
        "peak_rss_mib": round(peak_rss_mib()),
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, indent=2))
    print(f"\nmedian of {args.repeats} runs")
    rows = [
        [f["backend"], f"{f['series']} x {f['points_per_series']:,}",
         f"{f['backfill_points_per_s']:,.0f}", f"{f['bare_points_per_s']:,.0f}",
         f"{f['ratio']:.2f}"]
        for f in figures
    ]  # fmt: skip
    headers = ["backend", "series x points", "backfill points/s", "bare network points/s", "ratio"]
    print(markdown_table(headers, rows))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
