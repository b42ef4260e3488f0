"""One-step forecasts to per-point anomaly decisions: errors, smoothing, score, threshold; pure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.config.detection import DetectionSettings
from forecaster.detection.errors import side_errors, smooth_errors
from forecaster.detection.registry import scorer_from, threshold_from
from forecaster.detection.scores.base import Scorer
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


@dataclass(frozen=True)
class SideDecisions:
    """One side's (high or low) threshold, scores and flags for the decided positions."""

    threshold: np.ndarray
    score: np.ndarray  # -1 where there is no score (so it never wins a comparison)
    flagged: np.ndarray


@dataclass(frozen=True)
class Detector:
    """A pipeline's detection chain: residuals split by side, each side smoothed (truncated
    EWMA), scored and thresholded; a point is anomalous when a side crosses its threshold
    with a score of at least `min_score`."""

    smoothing_span: int
    smoothing_length: int
    scorer: Scorer
    threshold: Threshold
    min_score: float

    @classmethod
    def from_settings(cls, settings: DetectionSettings) -> Detector:
        return cls(
            smoothing_span=settings.smoothing_span,
            smoothing_length=settings.smoothing_length,
            scorer=scorer_from(settings.scorer),
            threshold=threshold_from(settings.threshold),
            min_score=settings.min_score,
        )

    @property
    def context_points(self) -> int:
        """Points of history before the first new point that decisions may depend on (the
        smoothing kernel and the farther-reaching part), doubled so warm-up gaps (NaN
        errors) inside the history cannot make a decision reach further."""
        reach = max(self.threshold.history, self.scorer.history)
        return 2 * (self.smoothing_length + reach)

    def decide(
        self,
        values: np.ndarray,
        observed: np.ndarray,
        predicted: np.ndarray,
        steps: np.ndarray,
        start: int,
        *,
        reference_scale: float | None,
    ) -> Decisions:
        """Judge positions start..n-1 using only values, predictions and errors up to each
        point. `predicted` holds the one-step prediction of every position (NaN where there
        is none); filled points (not `observed`) have no residual and are never anomalous."""
        residual = np.where(observed & np.isfinite(predicted), values - predicted, np.nan)
        high, low = (
            self._side(errors, steps, start, reference_scale) for errors in side_errors(residual)
        )
        # Report the side that fired; when both or neither did, the more unusual one.
        use_low = (low.flagged & ~high.flagged) | (
            (low.flagged == high.flagged) & (low.score > high.score)
        )
        score = np.where(use_low, low.score, high.score)
        return Decisions(
            positions=np.arange(start, len(values)),
            predicted=predicted[start:],
            residual=residual[start:],
            threshold=np.where(use_low, low.threshold, high.threshold),
            score=np.where(score < 0, np.nan, score),
            anomalous=(high.flagged | low.flagged) & observed[start:],
            direction=np.where(use_low, "low", "high"),
        )

    def _side(
        self, errors: np.ndarray, steps: np.ndarray, start: int, reference_scale: float | None
    ) -> SideDecisions:
        smoothed = smooth_errors(errors, self.smoothing_span, self.smoothing_length)
        result = self.threshold.decide(smoothed, steps, start, reference_scale=reference_scale)
        scores = self.scorer.score(smoothed, start)
        flagged = result.anomalous & np.isfinite(scores) & (scores >= self.min_score)
        return SideDecisions(result.threshold, np.nan_to_num(scores, nan=-1.0), flagged)
