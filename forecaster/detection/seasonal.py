"""Seasonal errors: a forecast error as large as one a season earlier at the same phase is the
model's usual miss there (a daily step it cannot time exactly), not news; pure."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from forecaster.config.strict import StrictModel
from forecaster.detection.arrays import BoolArray, FloatArray, IntArray


class SeasonalSettings(StrictModel):
    """`detection.seasonal`: forgive errors the season explains."""

    enabled: bool = Field(
        default=True,
        description="A forecast-rule point is not anomalous when its error is explained by "
        "the one a season earlier (below). Needs a season: `model.seasonality`.",
    )
    ratio: float = Field(
        default=2.0,
        ge=1.0,
        description="An error is explained when it is less than this multiple of the largest "
        "error within `slack` grid steps of the same phase one season earlier.",
    )
    slack: int = Field(
        default=2,
        ge=0,
        description="Grid steps on either side of the same phase searched (a daily event a "
        "little early or late).",
    )


def seasonal_reach(settings: SeasonalSettings, season: int | None) -> int:
    """Positions before a decided point the rule may look at (0 without a season)."""
    if not settings.enabled or season is None:
        return 0
    return season + settings.slack


def explained_by_season(
    residual: FloatArray,
    steps: IntArray,
    start: int,
    season: int | None,
    settings: SeasonalSettings,
) -> BoolArray:
    """For positions start..: whether |residual| is below `ratio` x the largest |residual| at
    grid steps t - season - slack .. t - season + slack (earlier points only; points without a
    residual there explain nothing)."""
    size = residual.size - start
    if not settings.enabled or season is None or size <= 0:
        return np.zeros(max(size, 0), bool)
    magnitude = np.abs(residual)
    reference = np.full(size, np.nan)
    decided = steps[start:]
    for shift in range(season - settings.slack, season + settings.slack + 1):
        if shift < 1:
            continue
        target = decided - shift
        where = np.clip(np.searchsorted(steps, target), 0, steps.size - 1)
        found = steps[where] == target
        earlier = np.where(found, magnitude[where], np.nan)
        reference = np.fmax(reference, earlier)
    with np.errstate(invalid="ignore"):
        return magnitude[start:] < settings.ratio * reference
