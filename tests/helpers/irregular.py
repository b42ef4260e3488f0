"""A jittered, gappy, bursty 5-minute sensor: what real feeds look like (seeded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIVE_MINUTES = pd.Timedelta("5min")


def jittered_times(
    n: int, *, seed: int = 5, jitter: pd.Timedelta = pd.Timedelta("2min"), phase: str = "0s"
) -> pd.DatetimeIndex:
    """`n` nominal 5-minute times, each moved by a uniform random jitter of up to ±`jitter`."""
    rng = np.random.default_rng(seed)
    nominal = pd.date_range("2024-05-01", periods=n, freq="5min", tz="UTC") + pd.Timedelta(phase)
    shift = rng.uniform(-1, 1, n) * jitter.value
    ns = nominal.as_unit("ns").asi8 + shift.astype(np.int64)
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")


def irregular_sensor(n: int = 900, *, seed: int = 5) -> pd.Series:
    """A daily-seasonal sensor on jittered 5-minute times with a long gap (40 intervals), a
    few short ones, and bursts (bins holding three readings); one spike."""
    rng = np.random.default_rng(seed + 1)
    times = jittered_times(n, seed=seed)
    t = np.arange(n)
    values = 10 + 2 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.2, n)
    values[700:702] += 6.0
    keep = np.ones(n, dtype=bool)
    keep[400:440] = False  # a long gap: splits the series
    keep[rng.choice(np.arange(50, n - 1), 20, replace=False)] = False  # short gaps: filled
    series = pd.Series(values[keep], index=times[keep])
    burst_at = rng.choice(np.arange(250, n - 10), 10, replace=False)
    extra = [
        pd.Series(values[i] + rng.normal(0, 0.05, 2), index=times[i] + pd.to_timedelta([5, 9], "s"))
        for i in burst_at
        if keep[i]
    ]
    return pd.concat([series, *extra]).sort_index()


def write_irregular(path: Path, n: int = 900, *, seed: int = 5) -> pd.Series:
    """`irregular_sensor` as a CSV with ISO timestamps at nanosecond-free (µs) precision."""
    series = irregular_sensor(n, seed=seed)
    series.index = series.index.floor("us")
    frame = pd.DataFrame(
        {"timestamp": series.index.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "value": series}
    )
    frame.to_csv(path, index=False)
    return series
