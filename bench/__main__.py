"""One entry point for the benchmarks: python -m bench COMMAND [options]

  all        the headline figures: end-to-end backfill throughput beside the bare network
             rate (SQLite and PostgreSQL), the peak RSS of a large backfill, and the NAB
             quality scores beside the baseline; JSON (--json) and a markdown table
  backfill   bench.backfill    memory   bench.memory    evaluate   bench.evaluate
  scoring    bench.scoring     daemon   bench.daemon    ingest     bench.ingest
  workers    bench.workers     (walk-forward backfill: 1 process, --workers 2, Dask)
  operations bench.operations  (daemon cycles with and without metrics and notifications)

`python -m bench COMMAND --help` lists a command's options; `python -m bench.COMMAND` works too.
`all` runs each benchmark in its own process (so each peak RSS is that benchmark's alone).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import machine, markdown_table

COMMANDS = (
    "backfill",
    "memory",
    "evaluate",
    "scoring",
    "daemon",
    "ingest",
    "workers",
    "operations",
)
ROOT = Path(__file__).resolve().parent.parent
NAB = ROOT.parent / "shared" / "data" / "nab"
QUICK_NAB_FILES = ("artificialWithAnomaly/art_daily_jumpsup.csv",)
RATIO_TARGET = 0.5
RSS_TARGET_MIB = 1024


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return
    command, rest = args[0], args[1:]
    if command == "all":
        run_all(rest)
        return
    if command not in COMMANDS:
        sys.exit(f"unknown command {command!r}; choose from all, {', '.join(COMMANDS)}")
    module = importlib.import_module(f"bench.{command}")
    sys.argv = [f"python -m bench {command}", *rest]  # the modules parse sys.argv
    module.main()


def run_all(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench all", description=__doc__)
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--repeats", type=int, default=3, help="Backfill runs (median).")
    parser.add_argument("--backends", default="sqlite,postgresql", help="For the backfill.")
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--memory-series", type=int, default=10)
    parser.add_argument("--memory-points", type=int, default=1_000_000)
    parser.add_argument("--memory-repeats", type=int, default=1)
    parser.add_argument("--skip-quality", action="store_true", help="No NAB run (~15 min).")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Tiny sizes (checks the harness, figures mean nothing): backfill 3 x 2,000, "
        "memory 2 x 5,000, one repeat, one NAB file.",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.series, args.points, args.repeats = 3, 2000, 1
        args.memory_series, args.memory_points, args.memory_repeats = 2, 5000, 1
    started = time.perf_counter()
    report: dict[str, Any] = {
        "machine": machine(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "quick": args.quick,
    }
    with tempfile.TemporaryDirectory(prefix="forecaster-bench-all-") as scratch:
        workdir = Path(scratch)
        report["backfill"] = _child(
            workdir,
            "backfill",
            [
                "--series",
                str(args.series),
                "--points",
                str(args.points),
                "--repeats",
                str(args.repeats),
                "--backends",
                args.backends,
            ],
        )
        report["memory"] = _child(
            workdir,
            "memory",
            [
                "--series",
                str(args.memory_series),
                "--points",
                str(args.memory_points),
                "--repeats",
                str(args.memory_repeats),
            ],
        )
        if not args.skip_quality:
            report["quality"] = _child(workdir, "evaluate", _quality_options(workdir, args.quick))
    report["seconds"] = time.perf_counter() - started
    report["figures"] = figures(report)
    args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["figures"], indent=2))
    print(
        f"\n`python -m bench all` in {report['seconds'] / 60:.1f} min; full report: {args.json}\n"
    )
    print(
        markdown_table(
            ["figure", "value", "target", "machine"],
            [[f["figure"], f["text"], _target(f), report["machine"]] for f in report["figures"]],
        )
    )


def _child(workdir: Path, command: str, options: list[str]) -> dict[str, Any]:
    """Run one benchmark in its own process; its JSON report."""
    out = workdir / f"{command}.json"
    print(f"== python -m bench {command} {' '.join(options)}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "bench", command, *options, "--json", str(out)], check=True
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _quality_options(workdir: Path, quick: bool) -> list[str]:
    if not quick:
        return []
    data = workdir / "nab"
    for key in QUICK_NAB_FILES:
        (data / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(NAB / "data" / key, data / key)
    return ["--data", str(data)]


def _commit() -> str | None:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return done.stdout.strip() or None


def figures(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline figures: name, value, its text, the target and whether it is met."""
    rows: list[dict[str, Any]] = []

    def add(figure: str, value: float | None, text: str, target: str, met: bool | None) -> None:
        rows.append({"figure": figure, "value": value, "text": text, "target": target, "met": met})

    backfill = report["backfill"]
    for b in backfill["results"]:
        size = f"{b['series']} x {b['points_per_series']:,} points, {b['backend']}"
        median = f"median of {backfill['repeats']}"
        add(
            f"backfill end to end, points/s ({size})",
            b["backfill_points_per_s"],
            f"{b['backfill_points_per_s']:,.0f} ({median}; {b['models_trained']} models trained)",
            "",
            None,
        )
        add(
            f"bare network (sequence mode), points/s ({size})",
            b["bare_points_per_s"],
            f"{b['bare_points_per_s']:,.0f} ({median})",
            "",
            None,
        )
        add(
            f"backfill / bare network ({b['backend']})",
            b["ratio"],
            f"{b['ratio']:.2f} ({median})",
            f">= {RATIO_TARGET}",
            b["ratio"] >= RATIO_TARGET,
        )
    add(
        "peak RSS of the backfill benchmark process",
        backfill["peak_rss_mib"],
        f"{backfill['peak_rss_mib']:,} MiB",
        "",
        None,
    )
    m = report["memory"]["result"]
    size = f"{m['series']} x {m['points_per_series']:,} = {m['points']:,} points, {m['backend']}"
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in m["phase_seconds"].items())
    rss = m["peak_rss_mib"]
    add(
        f"large backfill peak RSS ({size})",
        rss,
        f"{rss:,.0f} MiB ({m['peak_rss_before_backfill_mib']:,.0f} MiB before the backfill)",
        f"< {RSS_TARGET_MIB} MiB",
        rss < RSS_TARGET_MIB,
    )
    add(
        f"large backfill points/s ({size})",
        m["points_per_s"],
        f"{m['points_per_s']:,.0f} ({phases})",
        "",
        None,
    )
    if "quality" in report:
        rows.extend(_quality_rows(report["quality"]))
    return rows


def _quality_rows(quality: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    targets = {
        "standard": ("NAB standard", 65.0),
        "reward_low_FP_rate": ("NAB low FP", None),
        "reward_low_FN_rate": ("NAB low FN", None),
    }
    product, baseline = quality["forecaster"]["total"], quality["baseline"]["total"]
    files = product["files"]
    for profile, (label, target) in targets.items():
        ours, theirs = product["nab"][profile]["score"], baseline["nab"][profile]["score"]
        rows.append(
            {
                "figure": f"{label} score, forecaster ({files} NAB files)",
                "value": ours,
                "text": f"{_score(ours)} (baseline {_score(theirs)})",
                "target": "" if target is None else f">= {target:.0f}",
                "met": None if target is None or ours is None else ours >= target,
            }
        )
    for key in ("precision", "recall", "f1"):
        ours, theirs = product["events"][key], baseline["events"][key]
        target = 0.6 if key == "f1" else None
        rows.append(
            {
                "figure": f"event {key}, forecaster ({files} NAB files)",
                "value": ours,
                "text": f"{ours:.2f} (baseline {theirs:.2f})",
                "target": "" if target is None else f">= {target}",
                "met": None if target is None else ours >= target,
            }
        )
    return rows


def _target(figure: dict[str, Any]) -> str:
    met = figure["met"]
    return figure["target"] + ("" if met is None else " (met)" if met else " (not met)")


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
