"""Forecast errors: split by side, smoothed by a causal truncated EWMA; pure numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from forecaster.detection.arrays import FloatArray, as_1d


def smoothing_kernel(span: int, length: int) -> FloatArray:
    """Truncated EWMA weights (alpha = 2/(span+1)) summing to 1, oldest first, newest last."""
    if span < 1:
        raise ValueError(f"smoothing span must be >= 1, got {span}")
    if length < 1:
        raise ValueError(f"smoothing kernel length must be >= 1, got {length}")
    alpha = 2.0 / (span + 1.0)
    ages = np.arange(length - 1, -1, -1, dtype=np.float64)
    weights = alpha * (1.0 - alpha) ** ages
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def smooth_errors(errors: npt.ArrayLike, span: int, length: int) -> FloatArray:
    """Causal EWMA smoothing as a finite convolution over errors[t-length+1 .. t].

    NaN inputs (no prediction) are skipped: the output is the weighted mean over the finite
    inputs, renormalised by their kernel weight, and NaN where that weight is below one half.
    Windows are positional (array positions, not grid steps). Every output is summed in the
    same fixed order from its own window only, so output[t] is
    bit-identical for any array that holds the `length - 1` points before t.
    """
    values = as_1d(errors, "errors")
    if np.any(values < 0):  # NaN compares False
        raise ValueError("errors must be nonnegative (split residuals with side_errors first)")
    if np.any(np.isinf(values)):
        raise ValueError("errors must be finite or NaN, got an infinite value")
    kernel = smoothing_kernel(span, length)
    n = values.size
    finite = np.isfinite(values)
    pad = np.zeros(length - 1, dtype=np.float64)
    padded_values = np.concatenate([pad, np.where(finite, values, 0.0)])
    padded_weight = np.concatenate([pad, finite.astype(np.float64)])
    # einsum's loops (no BLAS without `optimize`) sum every window in one order whatever n is.
    windows = np.lib.stride_tricks.sliding_window_view
    total = np.einsum("ij,j->i", windows(padded_values, length), kernel)
    weight = np.einsum("ij,j->i", windows(padded_weight, length), kernel)
    out = np.full(n, np.nan, dtype=np.float64)
    enough = weight >= 0.5
    out[enough] = total[enough] / weight[enough]
    return out


def side_errors(residuals: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(high, low) = (max(r, 0), max(-r, 0)): observed above / below the forecast; NaN kept."""
    r = as_1d(residuals, "residuals")
    high = np.maximum(r, 0.0) + 0.0  # + 0.0 turns -0.0 into 0.0
    low = np.maximum(-r, 0.0) + 0.0
    return high, low
