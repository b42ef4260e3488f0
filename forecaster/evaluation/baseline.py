"""A trailing rolling-sigma detector on raw values: the baseline a model has to beat; pure."""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_WINDOW = 100  # trailing points for the mean and std (≈ 8 h of NAB's 5-minute data)
DEFAULT_K = 4.0  # |x - mean| > 4·std: ~6e-5 of Gaussian points, so noise rarely fires
DEFAULT_MERGE_GAP = 3  # anomalous points at most 3 rows apart belong to the same event


def rolling_sigma_events(
    values: pd.Series,
    window: int = DEFAULT_WINDOW,
    k: float = DEFAULT_K,
    merge_gap: int = DEFAULT_MERGE_GAP,
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Events (first, last anomalous timestamp) where a value leaves mean ± k·std of its past.

    A point x_t is anomalous when |x_t - m_t| > k·s_t, where m_t and s_t (sample std, ddof=1)
    are computed over the ``window`` observed points just before t; x_t itself and later points
    are never used (no look-ahead), so the first ``window`` points are never judged. Missing
    values (NaN) are dropped first: they are neither judged nor part of any history. A constant
    history (s_t = 0) flags any point that differs from it at all.

    Anomalous points whose row positions (among the observed points) differ by at most
    ``merge_gap`` form one event; ``merge_gap=1`` merges only adjacent points. Timestamps are
    returned as they are in ``values.index`` (a DatetimeIndex, in file order).
    """
    if not isinstance(values.index, pd.DatetimeIndex):
        raise TypeError("values must be indexed by a DatetimeIndex")
    if window < 2:
        raise ValueError(f"window must be at least 2 points, got {window}")
    if not k > 0:
        raise ValueError(f"k must be positive, got {k}")
    if merge_gap < 1:
        raise ValueError(f"merge_gap must be at least 1 row, got {merge_gap}")

    observed = values.astype(float).dropna()
    x = observed.to_numpy(dtype=float)
    history = pd.Series(x).rolling(window, min_periods=window)
    mean = history.mean().shift(1).to_numpy()
    std = history.std(ddof=1).shift(1).to_numpy()
    judged = ~np.isnan(mean)
    flagged = np.zeros(len(x), dtype=bool)
    flagged[judged] = np.abs(x[judged] - mean[judged]) > k * std[judged]
    rows = np.flatnonzero(flagged)
    if rows.size == 0:
        return []

    index = observed.index
    breaks = np.flatnonzero(np.diff(rows) > merge_gap)
    starts = np.concatenate(([rows[0]], rows[breaks + 1]))
    ends = np.concatenate((rows[breaks], [rows[-1]]))
    return [
        (pd.Timestamp(index[s]), pd.Timestamp(index[e]))
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    ]
