"""The tail score: how far a smoothed error lies above its recent history, in [0, 1]."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from forecaster.detection.arrays import FloatArray, as_1d
from forecaster.detection.parts import PartSettings, check_history_fits_window
from forecaster.detection.scores.base import Scorer
from forecaster.detection.scores.trailing import trailing_stats

#: Default relative floor of the standard deviation in `tail_scores`: a history whose spread
#: is below this fraction of its mean is treated as constant.
DEFAULT_REL_STD_FLOOR = 1e-9


class TailSettings(PartSettings):
    """`scorer: {method: tail}`: a smoothed error against the mean and spread of the ones before."""

    method: Literal["tail"] = "tail"
    window: int = Field(
        default=1000,
        ge=2,
        description="Previous smoothed errors the tail score's mean and std come from.",
    )
    min_history: int = Field(
        default=100,
        ge=1,
        description="Fewest finite previous smoothed errors a tail score needs (else NaN). "
        "At most `window`.",
    )

    @model_validator(mode="after")
    def _history_fits_window(self) -> Self:
        check_history_fits_window(self.min_history, self.window)
        return self


class TailScorer(Scorer):
    """`tail_scores` as a detection part: z²/(1+z²) of a smoothed error against its window."""

    name: ClassVar[str] = "tail"
    settings_type = TailSettings

    def __init__(
        self,
        *,
        window: int = 1000,
        min_history: int = 100,
        rel_std_floor: float = DEFAULT_REL_STD_FLOOR,
    ) -> None:
        _check_arguments(window, min_history, rel_std_floor)
        self.window = window
        self.min_history = min_history
        self.rel_std_floor = rel_std_floor

    @property
    def history(self) -> int:
        return self.window  # positions t-window .. t-1

    def _scores(self, values: FloatArray, start: int) -> FloatArray:
        scores = tail_scores(
            values, self.window, self.min_history, rel_std_floor=self.rel_std_floor, start=start
        )
        return scores[start:]


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
    _check_arguments(window, min_history, rel_std_floor)
    n = values.size
    if not 0 <= start <= n:
        raise ValueError(f"start must be in 0..{n}, got {start}")
    stats = trailing_stats(values, window, start)
    scores = np.full(n, np.nan, dtype=np.float64)
    ok = np.isfinite(values) & (stats.count >= min_history) & (np.arange(n) >= start)
    if np.any(ok):
        scores[ok] = _cantelli(values[ok], stats.mean[ok], stats.var[ok], rel_std_floor)
    return scores


def _check_arguments(window: int, min_history: int, rel_std_floor: float) -> None:
    if window < 1:
        raise ValueError(f"score window must be >= 1, got {window}")
    if not 1 <= min_history <= window:
        raise ValueError(f"min_history must be in 1..window ({window}), got {min_history}")
    if not rel_std_floor >= 0:
        raise ValueError(f"rel_std_floor must be >= 0, got {rel_std_floor}")


def _cantelli(
    values: FloatArray, mean: FloatArray, var: FloatArray, rel_std_floor: float
) -> FloatArray:
    """z²/(1+z²) for z > 0 (else 0) from the trailing mean and variance of each scored point."""
    floor = np.maximum(rel_std_floor * np.abs(mean), np.finfo(np.float64).tiny)
    std = np.maximum(np.sqrt(var), floor)
    with np.errstate(over="ignore"):
        z = (values - mean) / std
    result = np.zeros(z.size, dtype=np.float64)
    positive = z > 0
    with np.errstate(over="ignore", invalid="ignore"):
        z_sq = z[positive] * z[positive]
        result[positive] = np.where(np.isfinite(z_sq), z_sq / (1.0 + z_sq), 1.0)
    return result
