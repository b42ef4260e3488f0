"""Extreme residuals: judged at once where the forecast rule has too little history to judge."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from forecaster.config.strict import StrictModel
from forecaster.detection.arrays import BoolArray, FloatArray
from forecaster.detection.rules import RuleFlags, RuleInputs, excess_score, no_flags

# Residuals enter the error smoothing clipped to this magnitude: far beyond any real error, it
# only keeps the squares and window sums of the thresholds and scorers finite (no overflow
# warnings for values up to ±1e300).
RESIDUAL_LIMIT = 1e150


class ExtremeSettings(StrictModel):
    """`detection.extreme`: residuals far beyond the model's own validation error."""

    enabled: bool = Field(default=True, description="Judge extreme residuals early (below).")
    factor: float = Field(
        default=20.0,
        gt=0,
        description="Where the forecast rule cannot judge yet (its threshold or scorer lacks "
        "error history: a series' first scored points), a residual larger than this multiple "
        "of the model's validation RMSE is anomalous.",
    )


def extreme_level(settings: ExtremeSettings, reference_scale: float | None) -> float | None:
    """The residual magnitude beyond which an undecided point is extreme; None when the rule
    is off or the model has no usable validation RMSE."""
    if not settings.enabled or reference_scale is None:
        return None
    level = settings.factor * reference_scale
    return level if np.isfinite(level) and level > 0 else None


def limit_residuals(residual: FloatArray) -> FloatArray:
    """Residuals clipped to ±RESIDUAL_LIMIT (NaN kept)."""
    return np.clip(residual, -RESIDUAL_LIMIT, RESIDUAL_LIMIT)


class ExtremeRule:
    """Residuals beyond `factor` x the model's validation RMSE, where the forecast rule cannot
    judge yet (see ExtremeSettings)."""

    name: ClassVar[str] = "extreme"

    def __init__(self, settings: ExtremeSettings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: ExtremeSettings) -> ExtremeRule:
        return cls(settings)

    @property
    def history(self) -> int:
        return 0  # a point's own residual only

    def flags(self, inputs: RuleInputs) -> RuleFlags:
        level = extreme_level(self.settings, inputs.reference_scale)
        return extreme_flags(inputs.residual, inputs.undecided, level, inputs.min_score)


def extreme_flags(
    residual: FloatArray, undecided: BoolArray, level: float | None, min_score: float
) -> RuleFlags:
    """The `undecided` points whose |residual| exceeds `level`, scored by `excess_score`."""
    size = residual.size
    if level is None:
        return no_flags(size)
    magnitude = np.abs(residual)
    with np.errstate(invalid="ignore"):
        flagged = undecided & np.isfinite(magnitude) & (magnitude > level)
    levels = np.full(size, level)
    score = np.where(flagged, excess_score(magnitude, levels, min_score), np.nan)
    return RuleFlags(flagged, score, np.where(flagged, levels, np.nan))
