"""The tail score: how far a smoothed error lies above its recent history, in [0, 1]."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from forecaster.detection.arrays import FloatArray, as_1d

#: Default relative floor of the standard deviation in `tail_scores`: a history whose spread
#: is below this fraction of its mean is treated as constant.
DEFAULT_REL_STD_FLOOR = 1e-9


def tail_scores(
    smoothed: npt.ArrayLike,
    window: int,
    min_history: int,
    *,
    rel_std_floor: float = DEFAULT_REL_STD_FLOOR,
    start: int = 0,
) -> FloatArray:
    """Anomaly score in [0, 1] per point, comparable across series.

    z = (e_t - mean) / std over the finite values among the `window` positions before t
    (t excluded, population std), and score = z² / (1 + z²) for z > 0, else 0: one minus
    Cantelli's bound on the one-sided tail probability P(e - mean >= z·std) <= 1 / (1 + z²).
    Distribution-free (forecast errors are heavy-tailed) and slow to saturate, so scores
    still rank extreme points (z = 3: 0.9, z = 10: 0.990, z = 30: 0.9989).
    The std is floored at `rel_std_floor`·|mean| (and the smallest positive float), so a
    constant history scores 1 for a clearly larger error and 0 for an equal one. NaN where
    e_t is NaN or fewer than `min_history` finite previous values exist. output[t] depends
    only on smoothed[t-window .. t] and is bit-identical for any array holding those points.
    Only positions start.. are scored (earlier ones are NaN): the cost is (n - start) · window.
    """
    values = as_1d(smoothed, "smoothed")
    if window < 1:
        raise ValueError(f"score window must be >= 1, got {window}")
    if not 1 <= min_history <= window:
        raise ValueError(f"min_history must be in 1..window ({window}), got {min_history}")
    if not rel_std_floor >= 0:
        raise ValueError(f"rel_std_floor must be >= 0, got {rel_std_floor}")
    n = values.size
    if not 0 <= start <= n:
        raise ValueError(f"start must be in 0..{n}, got {start}")
    finite = np.isfinite(values)
    clean = np.where(finite, values, 0.0)

    # Count of finite values among positions t-window .. t-1 (exact integer arithmetic).
    finite_before = np.concatenate([[0], np.cumsum(finite, dtype=np.int64)])
    positions = np.arange(n)
    count = finite_before[:n] - finite_before[np.maximum(positions - window, 0)]

    # Shift every window by its newest finite value before t: constant histories then give
    # exactly zero deviations, and the one-pass variance stays well conditioned.
    last_finite = np.maximum.accumulate(np.where(finite, positions, -1))
    previous = np.concatenate([[-1], last_finite[:-1]])
    shift = np.where(previous >= 0, clean[np.maximum(previous, 0)], 0.0)[start:]

    # Output t (from start) sums padded[t + j] for j = 0..window-1: positions t-window..t-1.
    padded_values = np.concatenate([np.zeros(window), clean])[start:]
    padded_finite = np.concatenate([np.zeros(window), finite.astype(np.float64)])[start:]
    m = n - start
    total = np.zeros(m, dtype=np.float64)
    total_sq = np.zeros(m, dtype=np.float64)
    if m > 0 and m * 8 <= window:
        # Few outputs (a daemon cycle): one row per output, summed by np.add.accumulate,
        # which adds left to right exactly like the loop below: the same bits either way.
        rows = np.lib.stride_tricks.sliding_window_view(padded_values[: m + window - 1], window)
        seen = np.lib.stride_tricks.sliding_window_view(padded_finite[: m + window - 1], window)
        dev_rows = (rows - shift[:, None]) * seen
        total[:] = np.add.accumulate(dev_rows, axis=1)[:, -1]
        total_sq[:] = np.add.accumulate(dev_rows * dev_rows, axis=1)[:, -1]
    else:
        dev = np.empty(m, dtype=np.float64)
        for j in range(window):  # j = 0 is position t - window; fixed order for every t
            np.subtract(padded_values[j : j + m], shift, out=dev)
            np.multiply(dev, padded_finite[j : j + m], out=dev)
            total += dev
            np.multiply(dev, dev, out=dev)
            total_sq += dev
    total = np.concatenate([np.zeros(start), total])
    total_sq = np.concatenate([np.zeros(start), total_sq])
    shift = np.concatenate([np.zeros(start), shift])

    scores = np.full(n, np.nan, dtype=np.float64)
    ok = finite & (count >= min_history) & (positions >= start)
    if not np.any(ok):
        return scores
    cnt = count[ok].astype(np.float64)
    mean_dev = total[ok] / cnt
    var = np.maximum(total_sq[ok] / cnt - mean_dev * mean_dev, 0.0)
    mean = shift[ok] + mean_dev
    floor = np.maximum(rel_std_floor * np.abs(mean), np.finfo(np.float64).tiny)
    std = np.maximum(np.sqrt(var), floor)
    with np.errstate(over="ignore"):
        z = (values[ok] - mean) / std
    result = np.zeros(z.size, dtype=np.float64)
    positive = z > 0
    with np.errstate(over="ignore", invalid="ignore"):
        z_sq = z[positive] * z[positive]
        result[positive] = np.where(np.isfinite(z_sq), z_sq / (1.0 + z_sq), 1.0)
    scores[ok] = result
    return scores
