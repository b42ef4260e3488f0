"""Walk-forward backfill (training included) in one process, in 2 worker processes and on a
2-worker Dask LocalCluster: wall time, points/s and the ratios, in one run.

`--series` synthetic 5-minute series of `--points` points are written as CSV files and ingested
with the CLI into a fresh database per run; then `forecaster backfill` (the real command, a
subprocess, the shipped model and training defaults) is timed from start to exit: reading,
every walk-forward training, scoring and writing. The modes alternate inside each repeat, in a
rotated order, so drift on a shared machine falls on all of them alike. Dask runs on a
`distributed.LocalCluster` (worker processes, one thread each) started by the benchmark.

Run from the repository root: python -m bench.workers [--series 6] [--points 2600]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bench.common import fresh_database, machine, markdown_table
from bench.fixtures import grid, synthetic

FORECASTER = Path(sys.executable).parent / "forecaster"
MODES = ("1 process", "2 workers", "dask 2 workers")


def write_corpus(directory: Path, series: int, points: int) -> list[Path]:
    paths = []
    for k in range(series):
        path = directory / f"bench_{k:03d}.csv"
        frame = pd.DataFrame({"timestamp": grid(points), "value": synthetic(points, seed=k)})
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def cli(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")}
    result = subprocess.run(
        [str(FORECASTER), *args], cwd=work, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"forecaster {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def timed_run(backend: str, root: Path, corpus: list[Path], mode: str, dask: str | None) -> float:
    """Seconds of one `forecaster backfill` of the corpus in a fresh database."""
    with fresh_database(backend, root) as url, tempfile.TemporaryDirectory(dir=root) as work:
        config = {"database": {"url": url}, "model_dir": "models"}
        (Path(work) / "config.yaml").write_text(yaml.safe_dump(config))
        for path in corpus:
            cli(Path(work), "ingest", str(path), "--series", path.stem)
        extra = {"1 process": [], "2 workers": ["--workers", "2"]}.get(mode)
        args = extra if extra is not None else ["--dask", str(dask)]
        started = time.perf_counter()
        cli(Path(work), "backfill", *args)
        return time.perf_counter() - started


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from distributed import LocalCluster

    seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
    with (
        tempfile.TemporaryDirectory(prefix="bench-workers-") as scratch,
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
    ):
        root = Path(scratch)
        corpus = write_corpus(root, args.series, args.points)
        for repeat in range(args.repeats):
            order = MODES[repeat % 3 :] + MODES[: repeat % 3]
            for mode in order:
                took = timed_run(args.backend, root, corpus, mode, cluster.scheduler_address)
                seconds[mode].append(took)
                print(f"repeat {repeat + 1}, {mode}: {took:.1f} s", file=sys.stderr)
    points = args.series * args.points
    median = {mode: statistics.median(values) for mode, values in seconds.items()}
    return {
        "machine": machine(),
        "backend": args.backend,
        "series": args.series,
        "points_per_series": args.points,
        "seconds": seconds,
        "median_seconds": median,
        "points_per_second": {mode: points / s for mode, s in median.items()},
        "speed_up_2_workers": median["1 process"] / median["2 workers"],
        "dask_vs_2_workers": median["dask 2 workers"] / median["2 workers"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    parser.add_argument("--series", type=int, default=6)
    parser.add_argument("--points", type=int, default=2600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    result = measure(args)
    rows = [
        [mode, f"{result['median_seconds'][mode]:.1f}", f"{result['points_per_second'][mode]:.0f}"]
        for mode in MODES
    ]
    print(markdown_table(["mode", "median s", "points/s"], rows))
    print(
        f"2 workers / 1 process: {result['speed_up_2_workers']:.2f}x; "
        f"dask / 2 workers time: {result['dask_vs_2_workers']:.2f}"
    )
    print(f"machine: {result['machine']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
