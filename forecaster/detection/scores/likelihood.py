"""The anomaly likelihood (as in Numenta's HTM): how improbable the recent mean of a signal is
under a Gaussian fitted to its longer history, in [0, 1]."""

from __future__ import annotations

import math
from typing import ClassVar, Literal, Self

import numpy as np
from pydantic import Field, model_validator

from forecaster.detection.arrays import BoolArray, FloatArray
from forecaster.detection.parts import PartSettings, check_history_fits_window
from forecaster.detection.scores.base import Scorer
from forecaster.detection.scores.trailing import (
    recent_means,
    stats_before_recent,
    stats_before_recent_at,
)

# The spread of a history is at least this fraction of its mean (a constant history: any
# clearly larger recent mean is improbable), and never zero.
REL_STD_FLOOR = 1e-3
_erf = np.vectorize(math.erf, otypes=[np.float64])


class LikelihoodSettings(PartSettings):
    """`scorer: {method: likelihood}`: the recent mean of the signal against its history."""

    method: Literal["likelihood"] = "likelihood"
    window: int = Field(
        default=1000,
        ge=2,
        description="Signal values before the recent ones the Gaussian is fitted to.",
    )
    short: int = Field(
        default=3,
        ge=1,
        description="Recent signal values (the point's included) averaged. HTM averages 10 "
        "raw scores; the signal here is already an EWMA, and 10 on top of it answers a "
        "two-point dip several points late: 3 answers at once.",
    )
    min_history: int = Field(
        default=200,
        ge=1,
        description="Fewest finite values in the history a score needs (else NaN). At most "
        "`window`.",
    )

    @model_validator(mode="after")
    def _history_fits_window(self) -> Self:
        check_history_fits_window(self.min_history, self.window)
        return self


class LikelihoodScorer(Scorer):
    """Phi((recent mean - mean) / std): the normal CDF, with the mean and std of the `window`
    values before the `short` recent ones (the point's own value last among those), the std
    floored at REL_STD_FLOOR x |mean|."""

    name: ClassVar[str] = "likelihood"
    settings_type = LikelihoodSettings

    def __init__(self, *, window: int = 1000, short: int = 3, min_history: int = 200) -> None:
        if not 1 <= min_history <= window or short < 1:
            raise ValueError(f"need 1 <= min_history <= window and short >= 1, got {locals()}")
        self.window, self.short, self.min_history = window, short, min_history

    @property
    def history(self) -> int:
        return self.window + self.short - 1

    def _scores(self, values: FloatArray, start: int) -> FloatArray:
        values, start = self._history_only(values, start)
        recent = recent_means(values, self.short, start)
        mean, var = stats_before_recent(values, self.window, self.short, start, self.min_history)
        return _likelihood(values[start:], recent, mean, var)

    def _scores_where(self, values: FloatArray, start: int, wanted: BoolArray) -> FloatArray:
        values, start = self._history_only(values, start)
        if not self._summable(values):
            return self._scores(values, start)
        at = np.flatnonzero(wanted)
        counted, mean, var = stats_before_recent_at(
            values, self.window, self.short, start, at, self.min_history
        )
        scores = np.where(np.isfinite(values[start:]) & counted, 0.0, np.nan)
        recent = recent_means(values, self.short, start)[at]
        scores[at] = _likelihood(values[start:][at], recent, mean, var)
        return scores

    def _summable(self, values: FloatArray) -> bool:
        """Whether no window's sum of squared deviations can overflow, so a point has a score
        exactly where its history holds enough values (the forecast rule's errors, clipped at
        1e150, always are; an overflowed history's mean is not finite and scores NaN)."""
        finite = np.abs(values[np.isfinite(values)])
        biggest = float(finite.max()) if finite.size else 0.0
        return 4.0 * biggest * biggest * self.window < float(np.finfo(np.float64).max)

    def _history_only(self, values: FloatArray, start: int) -> tuple[FloatArray, int]:
        # Every window is positional and summed in a fixed order: the history suffices (a
        # daemon cycle's context holds twice as much, for the thresholds' sake).
        cut = max(0, start - self.history)
        return values[cut:], start - cut


def _likelihood(
    values: FloatArray, recent: FloatArray, mean: FloatArray, var: FloatArray
) -> FloatArray:
    """Phi((recent - mean) / floored std) where the value and the history's mean are finite."""
    scores = np.full(values.size, np.nan)
    ok = np.isfinite(values) & np.isfinite(mean)
    if ok.any():
        mean, var = mean[ok], var[ok]
        floor = np.maximum(REL_STD_FLOOR * np.abs(mean), np.finfo(np.float64).tiny)
        with np.errstate(over="ignore", invalid="ignore"):
            z = (recent[ok] - mean) / np.maximum(np.sqrt(var), floor)
        scores[ok] = 0.5 * (1.0 + _erf(np.clip(z, -40.0, 40.0) / math.sqrt(2.0)))
    return scores
