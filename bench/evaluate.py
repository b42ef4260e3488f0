"""Detection quality on a labelled NAB-format corpus with the shipped defaults, beside the
rolling k-sigma baseline: NAB standard / low-FP / low-FN scores and event F1 per category.

Run from the repository root: python -m bench.evaluate [--data DIR] [--labels FILE] [--json F]
(default: ../shared/data/nab). It runs the same code as `forecaster evaluate` with the
settings of config.yaml, never tuned per file. `--seeds 0,1,2` repeats it with each
`model.seed` (so every network starts from other initial weights) and ends with a table of
the spread: a change of settings is only better when it is better beyond that spread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.common import machine, peak_rss_mib
from forecaster.config.loading import load_config
from forecaster.config.settings import Settings
from forecaster.evaluation.report import GroupReport
from pipelines.jobs.evaluate import Evaluation, evaluate

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


def with_seed(settings: Settings, seed: int) -> Settings:
    """The settings with the first pipeline's `model.seed` replaced (the one evaluated)."""
    first, *rest = settings.pipelines
    model = first.model.model_copy(update={"seed": seed})
    return settings.model_copy(
        update={"pipelines": [first.model_copy(update={"model": model}), *rest]}
    )


def print_tables(result: Evaluation, seconds: float) -> None:
    """The per-category table of one evaluation, and any file that was not scored."""
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


def print_spread(runs: list[tuple[int, Evaluation, float]]) -> None:
    """One row per seed (NAB standard per labelled category and in total, F1, minutes) and
    their median."""
    names = sorted(
        n for n, g in runs[0][1].product.categories.items() if g.nab["standard"].score is not None
    )

    def figures(result: Evaluation) -> list[float]:
        groups = [result.product.categories[n] for n in names] + [result.product.total]
        nab = [g.nab["standard"].score for g in groups]
        return [float("nan") if v is None else v for v in nab] + [result.product.total.overlap.f1]

    print(f"\n| seed | {' | '.join(names)} | total NAB | F1 | minutes |")
    print("|---" * (len(names) + 4) + "|")
    rows = [(seed, figures(result), seconds / 60) for seed, result, seconds in runs]
    for seed, values, minutes in rows:
        print(f"| {seed} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {minutes:.1f} |")
    medians = [statistics.median(column) for column in zip(*(v for _, v, _ in rows), strict=True)]
    print("| median | " + " | ".join(f"{v:.2f}" for v in medians) + " | |")


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
    parser.add_argument(
        "--seeds",
        type=seed_list,
        help="Comma-separated model seeds to evaluate in turn (default: config.yaml's).",
    )
    args = parser.parse_args()
    settings = load_config(args.config)
    if args.seeds and args.reuse_predictions:
        parser.error("--seeds trains again for each seed: it cannot reuse predictions")
    seeds = args.seeds or [settings.pipelines[0].model.seed]
    runs: list[tuple[int, Evaluation, float]] = []
    for seed in seeds:
        workdir = args.workdir / f"seed-{seed}" if args.workdir and args.seeds else args.workdir
        started = time.perf_counter()
        result = evaluate(
            with_seed(settings, seed),
            None,
            args.data,
            args.labels,
            workdir=workdir,
            reuse_predictions=args.reuse_predictions,
        )
        runs.append((seed, result, time.perf_counter() - started))
        print(f"\nmodel.seed {seed}")
        print_tables(result, runs[-1][2])
    if args.seeds:
        print_spread(runs)
    if args.json:
        reports = [
            {
                "machine": machine(),
                "seed": seed,
                "seconds": seconds,
                "peak_rss_mib": round(peak_rss_mib()),
                "forecaster": result.product.to_dict(),
                "baseline": result.baseline.to_dict(),
            }
            for seed, result, seconds in runs
        ]
        args.json.write_text(json.dumps(reports if args.seeds else reports[0], indent=2))


def seed_list(text: str) -> list[int]:
    """`--seeds 0,1,2` as integers."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integer seeds: {text!r}") from None


if __name__ == "__main__":
    main()
