"""Sliding min, max and count: exactly a direct scan of every window."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from forecaster.detection.sliding import sliding_extremes


def direct(values: np.ndarray, seen: np.ndarray, window: int) -> tuple[list, list, list]:
    lows, highs, counts = [], [], []
    for k in range(values.size - window + 1):
        picked = values[k : k + window][seen[k : k + window]]
        lows.append(picked.min() if picked.size else np.inf)
        highs.append(picked.max() if picked.size else -np.inf)
        counts.append(picked.size)
    return lows, highs, counts


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(0, 60),
    window=st.integers(1, 25),
    seed=st.integers(0, 2**32 - 1),
    seen_share=st.sampled_from([0.0, 0.3, 0.9, 1.0]),
)
def test_every_window_is_a_direct_scan(
    size: int, window: int, seed: int, seen_share: float
) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=size) * 10.0 ** rng.integers(-3, 6)
    values[rng.random(size) < 0.1] = np.nan  # unseen readings may be anything
    seen = (rng.random(size) < seen_share) & np.isfinite(values)
    low, high, count = sliding_extremes(values, seen, window)
    want_low, want_high, want_count = direct(values, seen, window)
    assert low.tolist() == want_low
    assert high.tolist() == want_high
    assert count.tolist() == want_count


def test_a_window_longer_than_the_values_has_no_output() -> None:
    low, high, count = sliding_extremes(np.arange(3.0), np.ones(3, bool), 4)
    assert low.size == high.size == count.size == 0
