"""The level-shift rule: the recent readings' mean moved far from the longer history's; pure.

A signal that needs no forecast: a one-step forecaster follows a level shift within a few
points (its errors are large only at the step), so a sustained move of the level is news the
forecast rule may report late or not at all. Means and spreads come from trailing sums in a
fixed order, so a decision costs O(window) and depends only on the positions it declares.
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from pydantic import Field, model_validator

from forecaster.config.strict import StrictModel
from forecaster.detection.arrays import FloatArray
from forecaster.detection.parts import check_history_fits_window
from forecaster.detection.rules import RuleFlags, RuleInputs, excess_score, no_flags
from forecaster.detection.scores.trailing import recent_means, stats_before_recent


class ShiftSettings(StrictModel):
    """`detection.shift`: flag readings whose recent mean left the longer history's level."""

    enabled: bool = Field(default=False, description="Run the level-shift rule.")
    short: int = Field(
        default=10,
        ge=1,
        description="Recent positions (the point's own included) whose observed readings' "
        "mean is compared with the history's.",
    )
    window: int = Field(
        default=500,
        ge=2,
        description="Positions before the recent ones whose observed readings give the "
        "history's mean and standard deviation.",
    )
    factor: float = Field(
        default=4.0,
        gt=0.0,
        description="The recent mean, and the point's own reading on the same side, must be "
        "more than this many of the history's standard deviations from its mean.",
    )
    min_history: int = Field(
        default=200,
        ge=2,
        description="Fewest observed readings in the history a judgement needs. At most `window`.",
    )

    @model_validator(mode="after")
    def _history_fits_window(self) -> Self:
        check_history_fits_window(self.min_history, self.window)
        return self


class ShiftRule:
    """Flags an observed point t with a residual when the mean of the observed readings among
    positions t-short+1..t and t's own reading both lie more than `factor` standard deviations
    of the observed readings among the `window` positions before those (on the same side) from
    their mean. Its score is `excess_score` of the recent mean's distance against
    factor x std, the threshold reported factor x std. A constant history never flags (no
    spread: the stuck rule and the flat start judge those)."""

    name: ClassVar[str] = "shift"

    def __init__(
        self, *, short: int = 10, window: int = 500, factor: float = 4.0, min_history: int = 200
    ) -> None:
        if short < 1 or not 2 <= min_history <= window or not factor > 0:
            raise ValueError(f"invalid shift rule: {short=}, {window=}, {factor=}, {min_history=}")
        self.short, self.window, self.factor, self.min_history = short, window, factor, min_history

    @classmethod
    def from_settings(cls, settings: ShiftSettings) -> Self:
        return cls(**settings.model_dump(exclude={"enabled"}))

    @property
    def history(self) -> int:
        return self.window + self.short - 1

    def flags(self, inputs: RuleInputs) -> RuleFlags:
        start, n = inputs.start, inputs.values.size
        readings = np.where(inputs.observed, inputs.values, np.nan)
        recent, mean, std = self.levels(readings, start)
        if not np.isfinite(std).any():
            return no_flags(n - start)
        level = self.factor * std
        with np.errstate(invalid="ignore"):
            moved = recent - mean
            own = readings[start:] - mean
            flagged = (
                np.isfinite(inputs.residual)
                & (std > 0)
                & (np.abs(moved) > level)
                & (np.abs(own) > level)
                & (np.sign(own) == np.sign(moved))
            )
        score = np.where(flagged, excess_score(np.abs(moved), level, inputs.min_score), np.nan)
        return RuleFlags(flagged, score, np.where(flagged, level, np.nan))

    def levels(self, readings: FloatArray, start: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """For positions start..: the recent readings' mean and the history's mean and standard
        deviation (NaN where the history has fewer than `min_history` readings or no recent
        reading is observed). NaN readings are missing."""
        recent = recent_means(readings, self.short, start)
        mean, var = stats_before_recent(readings, self.window, self.short, start, self.min_history)
        return recent, mean, np.sqrt(var)
