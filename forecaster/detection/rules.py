"""What a decision rule beside the forecast rule (extreme residual, stuck run) returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.detection.arrays import BoolArray, FloatArray


@dataclass(frozen=True)
class RuleFlags:
    """One rule's results for the decided positions (arrays of equal length)."""

    flagged: BoolArray
    score: FloatArray  # in [min_score, 1) where flagged; NaN elsewhere
    threshold: FloatArray  # the rule's level that was reached (NaN where none applies)


def excess_score(measure: FloatArray, level: FloatArray, min_score: float) -> FloatArray:
    """1 - (1 - min_score) * level / measure: `min_score` where a measure just reaches its
    level, approaching 1 as it grows; so a point flagged by a rule always passes the
    `score >= min_score` cut of the forecast rule. NaN where measure < level."""
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 1.0 - (1.0 - min_score) * (level / measure)
    return np.where(measure >= level, np.clip(score, 0.0, 1.0), np.nan)
