"""Detection quality on a labelled NAB-format corpus with the shipped defaults, beside the
rolling k-sigma baseline: NAB standard / low-FP / low-FN scores and event F1 per category.

Run from the repository root: python -m bench.evaluate [--data DIR] [--labels FILE] [--json F]
(default: ../shared/data/nab). It runs the same code as `forecaster evaluate` with the
settings of config.yaml, never tuned per file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.common import machine, peak_rss_mib
from forecaster.config.loading import load_config
from forecaster.evaluation.report import GroupReport
from pipelines.jobs.evaluate import evaluate

ROOT = Path(__file__).resolve().parent.parent
NAB = ROOT.parent / "shared" / "data" / "nab"


def row(name: str, detector: str, group: GroupReport) -> str:
    def score(profile: str) -> str:
        value = group.nab[profile].score
        return "n/a" if value is None else f"{value:.1f}"

    o = group.overlap
    return (
        f"| {name} | {group.files} | {detector} | {score('standard')} | "
        f"{score('reward_low_FP_rate')} | {score('reward_low_FN_rate')} | {o.precision:.2f} | "
        f"{o.recall:.2f} | {o.f1:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=NAB / "data")
    parser.add_argument("--labels", type=Path, default=NAB / "labels" / "combined_windows.json")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--json", type=Path, help="Also write the full report here.")
    parser.add_argument(
        "--workdir", type=Path, help="Keep the scratch database and models here (else removed)."
    )
    parser.add_argument(
        "--reuse-predictions",
        action="store_true",
        help="Decide the predictions kept in --workdir again (redetect) instead of a backfill.",
    )
    args = parser.parse_args()
    settings = load_config(args.config)
    started = time.perf_counter()
    result = evaluate(
        settings,
        None,
        args.data,
        args.labels,
        workdir=args.workdir,
        reuse_predictions=args.reuse_predictions,
    )
    seconds = time.perf_counter() - started
    print(f"machine: {machine()}; {seconds / 60:.1f} min; peak RSS {peak_rss_mib():,.0f} MiB")
    print("| group | files | detector | NAB standard | low FP | low FN | precision | recall | F1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    groups = [
        (n, result.product.categories[n], result.baseline.categories[n])
        for n in sorted(result.product.categories)
    ]
    groups.append(("total", result.product.total, result.baseline.total))
    for name, product, baseline in groups:
        print(row(name, "forecaster", product))
        print(row(name, "baseline", baseline))
    for failed in result.run.failed:
        print(f"series {failed.series} was not scored: {failed.error}")
    if args.json:
        report = {
            "machine": machine(),
            "seconds": seconds,
            "peak_rss_mib": round(peak_rss_mib()),
            "forecaster": result.product.to_dict(),
            "baseline": result.baseline.to_dict(),
        }
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
