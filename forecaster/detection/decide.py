"""Forecasts and thresholds to per-point anomaly decisions; pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.config.detection import DetectionSettings
from forecaster.detection.errors import side_errors, smooth_errors
from forecaster.detection.scores.tail import tail_scores
from forecaster.detection.thresholds.base import Threshold


@dataclass(frozen=True)
class Decisions:
    """Per-point results for the decided positions of a span (arrays of equal length)."""

    positions: np.ndarray  # into the span's arrays
    predicted: np.ndarray
    residual: np.ndarray
    threshold: np.ndarray  # ε of the reported side, on the smoothed error scale
    score: np.ndarray  # [0, 1]; NaN while the error history is too short
    anomalous: np.ndarray
    direction: np.ndarray  # "high": observed above the forecast, "low": below

    def anomalous_positions(self) -> np.ndarray:
        return self.positions[self.anomalous]


def context_points(settings: DetectionSettings) -> int:
    """Points of history before the first new point that decisions may depend on, doubled so
    warm-up gaps (NaN errors) inside the history cannot make a decision reach further."""
    t = settings.threshold
    reach = max(t.window + t.refit_every, settings.score_window + 1)
    return 2 * (settings.smoothing_length + reach)


def decide(
    values: np.ndarray,
    observed: np.ndarray,
    predicted: np.ndarray,
    steps: np.ndarray,
    start: int,
    *,
    settings: DetectionSettings,
    threshold: Threshold,
    reference_scale: float | None,
) -> Decisions:
    """Judge positions start..n-1 using only values, predictions and errors up to each point.

    `predicted` holds the one-step prediction of every position (NaN where there is none);
    filled points (not `observed`) have no residual and are never anomalous.
    """
    residual = np.where(observed & np.isfinite(predicted), values - predicted, np.nan)
    high, low = side_errors(residual)
    sides = []
    for errors in (high, low):
        smoothed = smooth_errors(errors, settings.smoothing_span, settings.smoothing_length)
        result = threshold.decide(smoothed, steps, start, reference_scale=reference_scale)
        scores = tail_scores(
            smoothed, settings.score_window, settings.score_min_history, start=start
        )[start:]
        flagged = result.anomalous & np.isfinite(scores) & (scores >= settings.min_score)
        sides.append((result.threshold, np.nan_to_num(scores, nan=-1.0), flagged))
    (eps_h, score_h, flag_h), (eps_l, score_l, flag_l) = sides
    # Report the side that fired; when both or neither did, the more unusual one.
    use_low = (flag_l & ~flag_h) | ((flag_l == flag_h) & (score_l > score_h))
    score = np.where(use_low, score_l, score_h)
    positions = np.arange(start, len(values))
    return Decisions(
        positions=positions,
        predicted=predicted[start:],
        residual=residual[start:],
        threshold=np.where(use_low, eps_l, eps_h),
        score=np.where(score < 0, np.nan, score),
        anomalous=(flag_h | flag_l) & observed[start:],
        direction=np.where(use_low, "low", "high"),
    )
