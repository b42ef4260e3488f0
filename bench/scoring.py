"""Sequence-mode scoring vs sliding-window predict, training time, and peak memory.

Run from the repository root: python -m bench.scoring [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from bench.common import machine, peak_rss_mib
from forecaster.config.model import ModelSettings
from forecaster.model.features import model_inputs, seasonal_period
from forecaster.model.network import Network, NetworkPool
from forecaster.model.predict import TrainedModel, one_step_predictions
from forecaster.model.train import train_model
from forecaster.series.regular import RegularSeries, regularize


def synthetic(n: int, seed: int) -> RegularSeries:
    """Daily-seasonal 5-minute sensor data with noise and a slow drift."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 20 + 3 * np.sin(2 * np.pi * t / 288) + 0.0005 * t + rng.normal(0, 0.4, n)
    index = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    return regularize(pd.Series(values, index=index, name=f"s{seed}"), None, 3)


def median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def sequence_scoring(model: TrainedModel, batch: list[RegularSeries]) -> None:
    for series in batch:
        one_step_predictions(model, series, np.arange(len(series)))


def window_scoring(model: TrainedModel, network: Network, batch: list[RegularSeries]) -> None:
    window = model.settings.window
    period = seasonal_period(model.settings.seasonality, model.frequency)
    for series in batch:
        inputs = model_inputs(series, model.scaler, model.settings.calendar, period)
        views = np.lib.stride_tricks.sliding_window_view(inputs, window, axis=0)
        network.predict_windows(np.ascontiguousarray(views.transpose(0, 2, 1))[:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="Repetitions per figure (median).")
    parser.add_argument("--json", help="Also write the figures to this file.")
    args = parser.parse_args()

    settings = ModelSettings()  # the shipped defaults
    pool = NetworkPool()
    started = time.perf_counter()
    network = pool.for_settings(settings)
    build_seconds = time.perf_counter() - started

    train_series = synthetic(10_000, seed=0)
    train_times, model = [], None
    for _ in range(args.runs):
        t0 = time.perf_counter()
        model = train_model(train_series, settings, network, seed=1, name="bench")
        train_times.append(time.perf_counter() - t0)
    assert model is not None

    cases = {"1 x 100k points": [synthetic(100_000, seed=1)]}
    cases["100 x 10k points"] = [synthetic(10_000, seed=10 + i) for i in range(100)]
    results: dict[str, dict[str, float]] = {}
    for label, batch in cases.items():
        points = sum(len(s) for s in batch)
        sequence_scoring(model, batch[:1])  # warm up once outside the timing
        seq = median_seconds(partial(sequence_scoring, model, batch), args.runs)
        win = median_seconds(partial(window_scoring, model, network, batch), args.runs)
        results[label] = {
            "points": points,
            "sequence_points_per_s": points / seq,
            "window_points_per_s": points / win,
            "speedup": win / seq,
        }

    figures = {
        "machine": machine(),
        "model": f"{settings.cell} {settings.layers}x{settings.units}, window {settings.window}, "
        f"horizon {settings.horizon}",
        "runs": args.runs,
        "build_seconds": build_seconds,
        "train_10k_seconds_median": statistics.median(train_times),
        "train_epochs": model.metrics["epochs"],
        "scoring": results,
        "peak_rss_mib": peak_rss_mib(),
    }
    print(f"machine: {figures['machine']}")
    print(f"model: {figures['model']} (default config); median of {args.runs} runs")
    print(f"build + compile network once: {build_seconds:.2f} s")
    print(
        f"train on 10k points: {figures['train_10k_seconds_median']:.1f} s "
        f"({model.metrics['epochs']} epochs, validation MAE {model.metrics['mae']:.3f}, "
        f"naive {model.metrics['naive_mae']:.3f})"
    )
    print(f"{'case':<18} {'sequence pts/s':>15} {'window pts/s':>13} {'ratio':>7}")
    for label, r in results.items():
        print(
            f"{label:<18} {r['sequence_points_per_s']:>15,.0f} {r['window_points_per_s']:>13,.0f}"
            f" {r['speedup']:>6.1f}x"
        )
    print(f"peak RSS: {figures['peak_rss_mib']:.0f} MiB")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
