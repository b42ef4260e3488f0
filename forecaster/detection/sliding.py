"""Sliding-window minimum, maximum and count of the seen values, in O(n) for any window; pure."""

from __future__ import annotations

import numpy as np

from forecaster.detection.arrays import FloatArray, IntArray


def sliding_extremes(
    values: FloatArray, seen: np.ndarray, window: int
) -> tuple[FloatArray, FloatArray, IntArray]:
    """For k = 0..len-window: the min and max of the seen values among values[k:k+window]
    (+inf and -inf where none is seen) and how many are seen. Min and max are exact, so the
    results are those of a direct scan, whatever the window's size."""
    size = values.size - window + 1
    if size <= 0:
        empty = np.empty(0)
        return empty, empty, np.empty(0, dtype=np.int64)
    low = _sliding(np.where(seen, values, np.inf), window, np.minimum, np.inf)
    high = _sliding(np.where(seen, values, -np.inf), window, np.maximum, -np.inf)
    seen_before = np.concatenate([[0], np.cumsum(seen, dtype=np.int64)])
    return low, high, seen_before[window:] - seen_before[:size]


def _sliding(values: FloatArray, window: int, op: np.ufunc, identity: float) -> FloatArray:
    """`op` over each window (van Herk / Gil-Werman): cut the array into blocks of `window`;
    a window is the end of one block and the start of the next, whose running `op` from the
    block's end and from its start are two accumulates, so each value is touched three times
    instead of `window` times."""
    blocks = -(-values.size // window)
    padded = np.full(blocks * window, identity)
    padded[: values.size] = values
    rows = padded.reshape(blocks, window)
    from_start = op.accumulate(rows, axis=1).ravel()
    to_end = op.accumulate(rows[:, ::-1], axis=1)[:, ::-1].ravel()
    size = values.size - window + 1
    result: FloatArray = op(to_end[:size], from_start[window - 1 : window - 1 + size])
    return result
