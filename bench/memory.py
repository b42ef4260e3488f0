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

from bench.common import machine, markdown_table, peak_rss_mib
from bench.fixtures import (
    PIPELINE,
    add_size_options,
    forget_backfill,
    one_model_settings,
    opened,
    prepared_database,
    series_names,
    timed_backfill,
)


def child(url: str, model_dir: Path, series: int, points: int) -> dict[str, Any]:
    """The measured backfill (in the child process); its figures and peak RSS."""
    settings = one_model_settings(url, model_dir, points)
    with opened(settings) as context:
        context.models.network_for(settings.pipeline(PIPELINE).model)  # TensorFlow loaded
        rss_before = peak_rss_mib()
        run = timed_backfill(context, series_names(series))
    return {
        **run,
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
    with prepared_database(backend, workdir, series, points) as (settings, prepared):
        url, model_dir = settings.database.url, settings.model_dir
        runs = []
        for k in range(repeats):
            if k:
                forget_backfill(settings, prepared.names)
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
            **prepared.phase_seconds(),
            "backfill": statistics.median(r["seconds"] for r in runs),
        },
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_size_options(parser, series=10, points=1_000_000, repeats=1)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
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
    rows = [
        [
            f["backend"],
            f"{f['series']} x {f['points_per_series']:,}",
            f"{f['peak_rss_mib']:,.0f}",
            f"{f['points_per_s']:,.0f}",
            *(f"{f['phase_seconds'][p]:.0f}" for p in ("load", "train_template", "backfill")),
        ]
    ]
    headers = [
        "backend",
        "series x points",
        "peak RSS (MiB)",
        "points/s",
        "load (s)",
        "train template (s)",
        "backfill (s)",
    ]
    print(markdown_table(headers, rows))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
