"""Peak memory of a large backfill, measured in a fresh process: chunking must keep it bounded.

`--series` synthetic 5-minute series of `--points` points each (default 10 x 1M = 10M points)
are bulk-loaded, each with a copy of one trained model (see bench.fixtures; `retrain_every` is
the series length, so the backfill trains nothing). The backfill then runs in a child process
(`run_pipeline` over every series, the shipped chunking) that reports its own peak RSS, before
and after the backfill, so the figure is that backfill's alone and not this process's.
Each phase is timed: bulk load, template training, model copy, backfill.

Run from the repository root: python -m bench.memory [--series 10] [--points 1000000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import fresh_database, machine, markdown_table, peak_rss_mib
from bench.fixtures import PIPELINE, forget_backfill, one_model_settings, prepare, series_names
from pipelines.backfill import run_pipeline
from pipelines.context import open_context

GIB = 1024  # MiB


def child(url: str, model_dir: Path, series: int, points: int) -> dict[str, Any]:
    """The measured backfill (in the child process); its figures and peak RSS."""
    settings = one_model_settings(url, model_dir, points)
    context = open_context(settings)
    try:
        context.models.network_for(settings.pipeline(PIPELINE).model)  # TensorFlow loaded
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        result = run_pipeline(context, PIPELINE, kind="backfill", names=series_names(series))
        seconds = time.perf_counter() - started
    finally:
        context.close()
    reports = result.reports
    return {
        "seconds": seconds,
        "points_read": sum(r.points_read for r in reports),
        "points_scored": sum(r.points_scored for r in reports),
        "models_trained": sum(r.models_trained for r in reports),
        "failed": [f"{r.series}: {r.error}" for r in result.failed],
        "peak_rss_before_backfill_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


def run_child(url: str, model_dir: Path, series: int, points: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.memory", "--child", url, str(model_dir)]
    command += ["--series", str(series), "--points", str(points)]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    run: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert not run["failed"], run["failed"][:3]
    assert run["models_trained"] == 0, f"the measured backfill trained: {run}"
    return run


def measure(backend: str, series: int, points: int, repeats: int, workdir: Path) -> dict[str, Any]:
    model_dir = workdir / f"models-{backend}"
    with fresh_database(backend, workdir) as url:
        context = open_context(one_model_settings(url, model_dir, points))
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
        runs = []
        for k in range(repeats):
            if k:
                context = open_context(one_model_settings(url, model_dir, points))
                try:
                    forget_backfill(context, prepared.names)
                finally:
                    context.close()
            run = run_child(url, model_dir, series, points)
            run["points_per_s"] = run["points_scored"] / run["seconds"]
            print(
                f"  {backend} run {k + 1}: peak RSS {run['peak_rss_mib']:,.0f} MiB "
                f"({run['peak_rss_before_backfill_mib']:,.0f} MiB before the backfill), "
                f"{run['points_per_s']:,.0f} points/s ({run['seconds']:.1f} s)",
                flush=True,
            )
            runs.append(run)
    return {
        "backend": backend,
        "series": series,
        "points_per_series": points,
        "points": series * points,
        "points_scored": runs[0]["points_scored"],
        "models_trained": max(r["models_trained"] for r in runs),
        "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
        "peak_rss_before_backfill_mib": statistics.median(
            r["peak_rss_before_backfill_mib"] for r in runs
        ),
        "points_per_s": statistics.median(r["points_per_s"] for r in runs),
        "phase_seconds": {
            "load": prepared.load_seconds,
            "train_template": prepared.train_seconds,
            "copy_models": prepared.clone_seconds,
            "backfill": statistics.median(r["seconds"] for r in runs),
        },
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--points", type=int, default=1_000_000, help="Points per series.")
    parser.add_argument("--repeats", type=int, default=1, help="Backfills (median).")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument("--child", nargs=2, metavar=("URL", "MODEL_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        figures = child(args.child[0], Path(args.child[1]), args.series, args.points)
        print(json.dumps(figures))
        return
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="forecaster-bench-") as scratch:
        figures = measure(args.backend, args.series, args.points, args.repeats, Path(scratch))
    report = {
        "benchmark": "memory",
        "measured": "peak RSS of a child process running run_pipeline over pre-trained series "
        "(0 models trained)",
        "machine": machine(),
        "repeats": args.repeats,
        "result": figures,
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "result"}, indent=2))
    f = figures
    rows = [[
        f["backend"], f"{f['series']} x {f['points_per_series']:,}",
        f"{f['peak_rss_mib']:,.0f}", f"{f['points_per_s']:,.0f}",
        *(f"{f['phase_seconds'][p]:.0f}" for p in ("load", "train_template", "backfill")),
    ]]  # fmt: skip
    headers = ["backend", "series x points", "peak RSS (MiB)", "points/s", "load (s)",
               "train template (s)", "backfill (s)"]  # fmt: skip
    print(markdown_table(headers, rows))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
