"""Thresholds refitted on a trailing window of finite errors at absolute step boundaries."""

from __future__ import annotations

from abc import abstractmethod
from typing import Self

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from forecaster.detection.arrays import BoolArray, FloatArray, IntArray
from forecaster.detection.memo import FitMemo
from forecaster.detection.parts import PartSettings, check_history_fits_window
from forecaster.detection.thresholds.base import ErrorSeries, Threshold, validate_errors


class WindowedSettings(PartSettings):
    """The fit window shared by the windowed thresholds (dynamic, robust)."""

    window: int = Field(
        default=1000,
        ge=2,
        description="Finite errors the level is fitted on; also the pruning window of the "
        "dynamic threshold.",
    )
    refit_every: int = Field(
        default=100,
        ge=1,
        description="Grid steps between refits: the level for a point is fitted on errors up "
        "to the last step that is a multiple of this.",
    )
    min_history: int = Field(
        default=100,
        ge=1,
        description="Fewest finite errors a fit needs; with fewer, points are not judged. "
        "At most `window`.",
    )

    @model_validator(mode="after")
    def _history_fits_window(self) -> Self:
        check_history_fits_window(self.min_history, self.window)
        return self


class WindowedThreshold(Threshold):
    """A threshold whose level is refitted on a trailing window at absolute step boundaries.

    The level for point t is fitted on the last `window` finite errors with step <= b, where
    b is the largest multiple of `refit_every` not above steps[t]. Points whose fit window
    holds fewer than `min_history` finite errors are undecided (ε NaN, not anomalous).
    """

    def __init__(self, *, window: int = 1000, refit_every: int = 100, min_history: int = 100):
        """`window`: finite errors per fit; `refit_every`: grid steps between refits;
        `min_history`: fewest finite errors a fit needs (1..window)."""
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if refit_every < 1:
            raise ValueError(f"refit_every must be >= 1, got {refit_every}")
        if not 1 <= min_history <= window:
            raise ValueError(f"min_history must be in 1..window ({window}), got {min_history}")
        self.window = window
        self.refit_every = refit_every
        self.min_history = min_history

    @property
    def history(self) -> int:
        """A fit window ends at most `refit_every` steps (so positions) before the point."""
        return self.window + self.refit_every

    def context_start(self, errors: npt.ArrayLike, steps: npt.ArrayLike, start: int) -> int:
        """First position of the fit window of `start` (every later window starts later)."""
        series = validate_errors(errors, steps, start, None)
        if series.start == series.errors.size:
            return series.start
        end = self._fit_end(series, series.steps[series.start : series.start + 1])[0]
        first = max(0, int(end) - self.window)
        if first == 0:
            return 0
        return min(int(series.finite_pos[first]), series.start)

    def _fit_end(self, series: ErrorSeries, steps: IntArray) -> IntArray:
        """For each step: how many finite errors have step <= its refit boundary."""
        boundary = (steps // self.refit_every) * self.refit_every
        last_position = np.searchsorted(series.steps, boundary, side="right")
        return np.searchsorted(series.finite_pos, last_position, side="left").astype(np.int64)

    def _levels(
        self, series: ErrorSeries, reference_scale: float | None, fits: FitMemo
    ) -> FloatArray:
        ends = self._fit_end(series, series.steps[series.start :])
        unique_ends, inverse = np.unique(ends, return_inverse=True)  # one fit per refit
        levels = np.full(unique_ends.size, np.nan, dtype=np.float64)
        for i, end in enumerate(unique_ends):
            begin = max(0, int(end) - self.window)
            if end - begin < self.min_history:
                continue
            history = series.finite_values[begin:end]
            linked = series.linked[begin:end].copy()
            linked[0] = False
            levels[i] = fits.level(history, linked, reference_scale, self._level, self)
        return np.asarray(levels[inverse.reshape(-1)], dtype=np.float64)

    @abstractmethod
    def _level(
        self, history: FloatArray, linked: BoolArray, reference_scale: float | None
    ) -> float:
        """ε fitted on finite `history` (oldest first); linked[i]: history[i] follows i-1."""
