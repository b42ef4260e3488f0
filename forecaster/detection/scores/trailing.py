"""Trailing-window statistics of a signal (finite count, mean, variance), each window summed
in one fixed order, so a statistic is bit-identical whatever history before its window was read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.detection.arrays import BoolArray, FloatArray, IntArray

# Values per batch of window rows summed at once (8 bytes each).
ROW_BATCH_VALUES = 250_000


@dataclass(frozen=True)
class TrailingStats:
    """Per position t: over the finite values among positions t-window..t-1."""

    count: IntArray  # how many there are (every t)
    mean: FloatArray  # their mean (NaN before `start` or without any)
    var: FloatArray  # their population variance (same)


def trailing_stats(values: FloatArray, window: int, start: int) -> TrailingStats:
    """Count, mean and variance of the finite values in the `window` positions before each
    t (t excluded); mean and variance only for t >= start."""
    n = values.size
    clean, finite, count, shift = _prepared(values, window)
    total, total_sq = window_sums(clean, finite, shift[start:], window, start)
    mean = np.full(n, np.nan)
    var = np.full(n, np.nan)
    have = (count > 0) & (np.arange(n) >= start)
    mean[have], var[have] = _moments(shift[have], total[have], total_sq[have], count[have])
    return TrailingStats(count=count, mean=mean, var=var)


def _prepared(
    values: FloatArray, window: int
) -> tuple[FloatArray, np.ndarray, IntArray, FloatArray]:
    """The values with 0 for non-finite ones, the finite mask, each t's count of finite values
    among t-window..t-1, and each t's shift: its newest finite value before t (0 without)."""
    n = values.size
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
    shift = np.where(previous >= 0, clean[np.maximum(previous, 0)], 0.0)
    return clean, finite, count, shift


def _moments(
    shift: FloatArray, total: FloatArray, total_sq: FloatArray, count: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Mean and population variance from the sums of deviations from `shift` (count > 0)."""
    cnt = count.astype(np.float64)
    mean_dev = total / cnt
    return shift + mean_dev, np.maximum(total_sq / cnt - mean_dev * mean_dev, 0.0)


def window_sums(
    clean: FloatArray, finite: np.ndarray, shift: FloatArray, window: int, start: int
) -> tuple[FloatArray, FloatArray]:
    """Sums of the shifted deviations and of their squares over positions t-window..t-1, for
    every t (zero before `start`), each summed in one fixed order whatever the array length."""
    # Output t (from start) sums padded[t + j] for j = 0..window-1: positions t-window..t-1.
    padded_values = np.concatenate([np.zeros(window), clean])[start:]
    padded_finite = np.concatenate([np.zeros(window), finite.astype(np.float64)])[start:]
    m = clean.size - start
    total = np.zeros(m, dtype=np.float64)
    total_sq = np.zeros(m, dtype=np.float64)
    if m > 0 and m * 8 <= window:
        # Few outputs (a daemon cycle): one row per output, the same bits as the loop below.
        total[:], total_sq[:] = _row_sums(padded_values, padded_finite, shift, window, np.arange(m))
    else:
        dev = np.empty(m, dtype=np.float64)
        for j in range(window):  # j = 0 is position t - window; fixed order for every t
            np.subtract(padded_values[j : j + m], shift, out=dev)
            np.multiply(dev, padded_finite[j : j + m], out=dev)
            total += dev
            np.multiply(dev, dev, out=dev)
            total_sq += dev
    before = np.zeros(start)
    return np.concatenate([before, total]), np.concatenate([before, total_sq])


def _row_sums(
    padded_values: FloatArray,
    padded_finite: FloatArray,
    shift: FloatArray,
    window: int,
    rows_at: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """`window_sums` for the outputs whose windows start at padded positions `rows_at`, one row
    each summed by np.add.accumulate, which adds left to right exactly like the loop there: the
    same bits either way. In batches, so a few thousand outputs never hold more than a few MiB."""
    rows = np.lib.stride_tricks.sliding_window_view(padded_values, window)
    seen = np.lib.stride_tricks.sliding_window_view(padded_finite, window)
    total = np.empty(rows_at.size)
    total_sq = np.empty(rows_at.size)
    batch = max(1, ROW_BATCH_VALUES // window)
    for first in range(0, rows_at.size, batch):
        at = rows_at[first : first + batch]
        dev_rows = (rows[at] - shift[first : first + batch, None]) * seen[at]
        total[first : first + batch] = np.add.accumulate(dev_rows, axis=1)[:, -1]
        total_sq[first : first + batch] = np.add.accumulate(dev_rows * dev_rows, axis=1)[:, -1]
    return total, total_sq


def recent_means(values: FloatArray, short: int, start: int) -> FloatArray:
    """Mean of the finite values among positions t-short+1..t for t = start.. (NaN without
    any), summed oldest first in one fixed order (so a longer array gives the same bits)."""
    n = values.size
    finite = np.isfinite(values)
    padded = np.concatenate([np.zeros(short - 1), np.where(finite, values, 0.0)])
    seen = np.concatenate([np.zeros(short - 1), finite.astype(np.float64)])
    total = np.zeros(n - start)
    count = np.zeros(n - start)
    for j in range(short):  # j = 0 is position t - short + 1
        total += padded[start + j : n + j]
        count += seen[start + j : n + j]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1.0), np.nan)


def stats_before_recent(
    values: FloatArray, window: int, short: int, start: int, min_history: int
) -> tuple[FloatArray, FloatArray]:
    """For t = start..: mean and variance of the finite values among the `window` positions
    before t's `short` recent ones (t-short-window+1..t-short), NaN where fewer than
    `min_history` of them are finite."""
    n = values.size
    stats = trailing_stats(values, window, max(start - short + 1, 0))
    anchor = np.arange(start, n) - short + 1  # negative: no history at all
    ok = _with_history(stats.count, anchor, min_history)
    mean, var = np.full(n - start, np.nan), np.full(n - start, np.nan)
    mean[ok], var[ok] = stats.mean[anchor[ok]], stats.var[anchor[ok]]
    return mean, var


def stats_before_recent_at(
    values: FloatArray, window: int, short: int, start: int, at: IntArray, min_history: int
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """For t = start..: whether `stats_before_recent` has a mean and variance there; and those
    at the offsets `at` (from start) only, the same bits. O(n), plus O(window) per offset."""
    clean, finite, count, shift = _prepared(values, window)
    anchor = np.arange(start, values.size) - short + 1
    ok = _with_history(count, anchor, min_history)
    wanted = at[ok[at]]
    rows = anchor[wanted]
    padded_values = np.concatenate([np.zeros(window), clean])
    padded_finite = np.concatenate([np.zeros(window), finite.astype(np.float64)])
    # Output t sums padded[t + j] for j = 0..window-1: positions t-window..t-1.
    total, total_sq = _row_sums(padded_values, padded_finite, shift[rows], window, rows)
    mean, var = np.full(at.size, np.nan), np.full(at.size, np.nan)
    where = np.flatnonzero(ok[at])
    mean[where], var[where] = _moments(shift[rows], total, total_sq, count[rows])
    return ok, mean, var


def _with_history(count: IntArray, anchor: IntArray, min_history: int) -> BoolArray:
    """Whether each anchor exists (>= 0) and its window holds `min_history` finite values."""
    ok = anchor >= 0
    ok[ok] &= count[anchor[ok]] >= min_history
    return ok
