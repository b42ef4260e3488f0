"""Hourly regular series built directly (no database, no regularizing) for model and detection
tests, and the seeded daily cycle they are usually made of."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.series.regular import RegularSeries

PERIOD = 24  # hourly data: the seasonal lag is one day


def hourly(values: np.ndarray, first_step: int = 100_000) -> RegularSeries:
    """`values` as one gapless hourly segment from 2024-01-01 (grid steps from `first_step`)."""
    n = len(values)
    return RegularSeries(
        index=pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
        values=np.asarray(values, dtype=float),
        observed=np.ones(n, dtype=bool),
        steps=np.arange(n, dtype=np.int64) + first_step,
        segment_starts=np.r_[True, np.zeros(n - 1, dtype=bool)],
        frequency="h",
    )


def daily_cycle(n: int, seed: int = 0) -> np.ndarray:
    """A daily sine (amplitude 3 around 10) with N(0, 0.3) noise, `n` hourly points."""
    rng = np.random.default_rng(seed)
    return 10 + 3 * np.sin(2 * np.pi * np.arange(n) / PERIOD) + rng.normal(0, 0.3, n)
