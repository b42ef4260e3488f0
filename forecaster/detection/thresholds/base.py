"""The threshold contract: decide positions start.. of smoothed errors, no look-ahead."""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from forecaster.detection.arrays import BoolArray, FloatArray, IntArray
from forecaster.detection.memo import FitMemo
from forecaster.detection.parts import DetectionPart


@dataclass(frozen=True)
class ThresholdResult:
    """Decisions for positions start..len-1 of the errors given to `Threshold.decide`."""

    threshold: FloatArray  # ε per decided point; NaN where no level could be fitted
    anomalous: BoolArray  # True where the point is judged anomalous


@dataclass(frozen=True)
class ErrorSeries:
    """Validated input plus the finite-only view the window rules are defined on."""

    errors: FloatArray
    steps: IntArray
    start: int
    finite_pos: IntArray  # positions of finite errors, increasing
    finite_values: FloatArray  # errors[finite_pos]
    # linked[i]: finite_values[i] directly follows finite_values[i-1] on the grid (step + 1)
    linked: BoolArray


class Threshold(DetectionPart):
    """A rule that turns smoothed errors into anomaly decisions without look-ahead.

    `decide` validates its input and then calls the small methods a subclass implements.
    The decision for position t uses errors[:t+1] only, so appending points never changes
    an earlier decision, and `decide(e, s, 0)` restricted to t.. equals `decide(e, s, t)`.
    Slicing the arrays is also safe as long as they start at or before `context_start`
    (with finite errors, `history` positions before `start`).
    """

    def decide(
        self,
        errors: npt.ArrayLike,
        steps: npt.ArrayLike,
        start: int = 0,
        *,
        reference_scale: float | None = None,
        fits: FitMemo | None = None,
    ) -> ThresholdResult:
        """Decide positions start..len-1 of `errors` (smoothed, nonnegative, NaN = no forecast).

        `steps` are the points' absolute integer grid step numbers (strictly increasing; they
        may jump over gaps). `reference_scale` is the spread of the model's training or
        validation errors in the units of `errors` (required by the static threshold). `fits`:
        levels fitted on the same windows before (a series' carried memo; None: none).
        """
        series = validate_errors(errors, steps, start, reference_scale)
        threshold = self._levels(series, reference_scale, FitMemo() if fits is None else fits)
        decided = series.errors[series.start :]
        with np.errstate(invalid="ignore"):
            anomalous = np.isfinite(decided) & (decided > threshold)
        anomalous = self._confirm(series, threshold, anomalous)
        return ThresholdResult(threshold=threshold, anomalous=anomalous)

    def context_start(self, errors: npt.ArrayLike, steps: npt.ArrayLike, start: int) -> int:
        """First position the decisions for start.. depend on.

        `decide(errors[c:], steps[c:], start - c)` equals `decide(errors, steps, start)` for
        every c <= context_start(errors, steps, start).
        """
        return validate_errors(errors, steps, start, None).start

    @abstractmethod
    def _levels(
        self, series: ErrorSeries, reference_scale: float | None, fits: FitMemo
    ) -> FloatArray:
        """ε for each position start..len-1 (NaN where undecided); `fits` may hold levels
        fitted on the same windows before."""

    def _confirm(
        self, series: ErrorSeries, threshold: FloatArray, anomalous: BoolArray
    ) -> BoolArray:
        """Hook to veto candidate anomalies (pruning); by default every candidate stands."""
        return anomalous


def validate_errors(
    errors: npt.ArrayLike, steps: npt.ArrayLike, start: int, reference_scale: float | None
) -> ErrorSeries:
    """The checked input of a threshold (ValueError naming what is wrong) and its finite view."""
    values = np.asarray(errors, dtype=np.float64)
    grid = np.asarray(steps)
    if values.ndim != 1:
        raise ValueError(f"errors must be a 1-D array, got shape {values.shape}")
    if grid.ndim != 1:
        raise ValueError(f"steps must be a 1-D array, got shape {grid.shape}")
    if grid.size != values.size:
        raise ValueError(f"errors and steps differ in length ({values.size} vs {grid.size})")
    if grid.size and not np.issubdtype(grid.dtype, np.integer):
        raise ValueError(f"steps must be integers, got dtype {grid.dtype}")
    grid = grid.astype(np.int64)
    if isinstance(start, bool) or not isinstance(start, int | np.integer):
        raise ValueError(f"start must be an integer, got {start!r}")
    if not 0 <= start <= values.size:
        raise ValueError(f"start must be in 0..{values.size} (the length of errors), got {start}")
    if np.any(np.diff(grid) <= 0):
        bad = int(np.flatnonzero(np.diff(grid) <= 0)[0])
        raise ValueError(
            f"steps must be strictly increasing: steps[{bad}]={grid[bad]}, "
            f"steps[{bad + 1}]={grid[bad + 1]}"
        )
    if np.any(np.isinf(values)) or np.any(values < 0):
        bad = int(np.flatnonzero(np.isinf(values) | (values < 0))[0])
        raise ValueError(
            f"errors must be nonnegative and finite or NaN: errors[{bad}]={values[bad]}"
        )
    if reference_scale is not None and not (math.isfinite(reference_scale) and reference_scale > 0):
        raise ValueError(f"reference_scale must be finite and > 0, got {reference_scale}")
    finite_pos = np.flatnonzero(np.isfinite(values)).astype(np.int64)
    finite_steps = grid[finite_pos]
    linked = np.zeros(finite_pos.size, dtype=np.bool_)
    linked[1:] = np.diff(finite_steps) == 1
    return ErrorSeries(
        errors=values,
        steps=grid,
        start=int(start),
        finite_pos=finite_pos,
        finite_values=values[finite_pos],
        linked=linked,
    )
