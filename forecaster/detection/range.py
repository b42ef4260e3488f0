"""The range rule: a reading outside the recent range of readings, widened by a margin; pure.

NAB's Numenta detector fires at once on a value outside the running [min, max] widened by a
share of the range: no forecast is needed to know that a value never seen before is news,
and it catches such a value even where the network follows it (after a slow drift in).
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from pydantic import Field, model_validator

from forecaster.config.strict import StrictModel
from forecaster.detection.arrays import FloatArray
from forecaster.detection.parts import check_history_fits_window
from forecaster.detection.rules import RuleFlags, RuleInputs, excess_score, no_flags
from forecaster.detection.sliding import sliding_extremes


class RangeSettings(StrictModel):
    """`detection.range`: flag readings outside the range of the recent ones."""

    enabled: bool = Field(default=True, description="Run the range rule.")
    window: int = Field(
        default=500,
        ge=2,
        description="Positions before a point whose observed readings' [min, max] it is "
        "compared with (filled readings are skipped).",
    )
    margin: float = Field(
        default=0.2,
        ge=0.0,
        description="The range is widened by this share of itself on both sides: a reading "
        "must leave [min - margin x (max - min), max + margin x (max - min)].",
    )
    min_history: int = Field(
        default=200,
        ge=2,
        description="Fewest observed readings in the window a judgement needs. At most `window`.",
    )

    @model_validator(mode="after")
    def _history_fits_window(self) -> Self:
        check_history_fits_window(self.min_history, self.window)
        return self


class RangeRule:
    """Flags an observed point with a residual whose reading lies outside the widened range of
    the observed readings among the `window` positions before it. Its score is
    `excess_score` of the distance from the range's middle against the widened half-range;
    the threshold reported is that half-range. A constant window never flags (no range)."""

    name: ClassVar[str] = "range"

    def __init__(self, *, window: int = 500, margin: float = 0.2, min_history: int = 200) -> None:
        if not 2 <= min_history <= window or not margin >= 0:
            raise ValueError(f"invalid range rule: {window=}, {margin=}, {min_history=}")
        self.window, self.margin, self.min_history = window, margin, min_history

    @classmethod
    def from_settings(cls, settings: RangeSettings) -> Self:
        return cls(**settings.model_dump(exclude={"enabled"}))

    @property
    def history(self) -> int:
        return self.window

    def flags(self, inputs: RuleInputs) -> RuleFlags:
        start, size = inputs.start, inputs.values.size - inputs.start
        low, high = self.bounds(inputs.values, inputs.observed, start)
        if low is None or high is None:
            return no_flags(size)
        middle, half = (high + low) / 2, (high - low) * (0.5 + self.margin)
        distance = np.abs(inputs.values[start:] - middle)
        with np.errstate(invalid="ignore"):
            flagged = (
                inputs.observed[start:]
                & np.isfinite(inputs.residual)
                & (half > 0)
                & (distance > half)
            )
        score = np.where(flagged, excess_score(distance, half, inputs.min_score), np.nan)
        return RuleFlags(flagged, score, np.where(flagged, half, np.nan))

    def bounds(
        self, values: FloatArray, observed: np.ndarray, start: int
    ) -> tuple[FloatArray | None, FloatArray | None]:
        """Min and max of the observed readings among the `window` positions before each
        position start.. (NaN with fewer than `min_history`); (None, None) when no position
        has enough. Min and max are exact, so any history holding the window gives the same
        bits; the cost is O(n - start + window) (`sliding_extremes`)."""
        n, window = values.size, self.window
        first = max(start - window, 0)
        seen = observed[first : n - 1] if n > 1 else observed[:0]
        readings = values[first : n - 1]
        pad = max(window - (start - first), 0)  # positions before the series' first one
        if pad:
            seen = np.concatenate([np.zeros(pad, bool), seen])
            readings = np.concatenate([np.zeros(pad), readings])
        if readings.size < window:
            return None, None
        # Output k: the window before position start + k.
        low, high, count = sliding_extremes(readings, seen, window)
        enough = count >= self.min_history
        if not enough.any():
            return None, None
        return np.where(enough, low, np.nan), np.where(enough, high, np.nan)
