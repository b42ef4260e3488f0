"""One-step forecasts to anomaly decisions: the forecast rule, extreme residuals, stuck runs."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from forecaster.config.detection import DetectionSettings
from forecaster.detection.errors import side_errors, smooth_errors
from forecaster.detection.extreme import (
    ExtremeSettings,
    extreme_flags,
    extreme_level,
    limit_residuals,
)
from forecaster.detection.registry import scorer_from, threshold_from
from forecaster.detection.rules import RuleFlags
from forecaster.detection.scores.base import Scorer
from forecaster.detection.stuck import StuckRule
from forecaster.detection.thresholds.base import Threshold


@dataclass(frozen=True)
class Decisions:
    """Per-point results for the decided positions of a span (arrays of equal length)."""

    positions: np.ndarray  # into the span's arrays
    predicted: np.ndarray
    residual: np.ndarray
    # The level the reporting rule's measure reached: ε of the reported side on the smoothed
    # error scale (forecast), factor * RMSE (extreme), the run-length limit in points (stuck).
    threshold: np.ndarray
    score: np.ndarray  # [0, 1]; NaN while the error history is too short
    anomalous: np.ndarray
    direction: np.ndarray  # "high": observed above the forecast, "low": below
    # Which rule reports an anomalous point: "forecast", "extreme", "stuck" or "flat_start"
    # ("" where not anomalous).
    rule: np.ndarray


@dataclass(frozen=True)
class SideDecisions:
    """One side's (high or low) threshold, scores and flags for the decided positions."""

    threshold: np.ndarray
    score: np.ndarray  # -1 where there is no score (so it never wins a comparison)
    flagged: np.ndarray


@dataclass(frozen=True)
class Detector:
    """A pipeline's detection chain. The forecast rule: residuals split by side, each side
    smoothed (truncated EWMA), scored and thresholded; a side that crosses its threshold with
    a score of at least `min_score` is anomalous. Beside it, a point is also anomalous when
    its residual is extreme while the forecast rule cannot judge yet (`extreme`) or its
    reading has been stuck too long (`stuck`); None turns a rule off."""

    smoothing_span: int
    smoothing_length: int
    scorer: Scorer
    threshold: Threshold
    min_score: float
    extreme: ExtremeSettings | None = None
    stuck: StuckRule | None = None

    @classmethod
    def from_settings(cls, settings: DetectionSettings) -> Detector:
        return cls(
            smoothing_span=settings.smoothing_span,
            smoothing_length=settings.smoothing_length,
            scorer=scorer_from(settings.scorer),
            threshold=threshold_from(settings.threshold),
            min_score=settings.min_score,
            extreme=settings.extreme if settings.extreme.enabled else None,
            stuck=StuckRule.from_settings(settings.stuck) if settings.stuck.enabled else None,
        )

    @property
    def context_points(self) -> int:
        """Points of history before the first new point that decisions may depend on (the
        smoothing kernel and the farther-reaching part), doubled so warm-up gaps (NaN
        errors) inside the history cannot make a decision reach further; at least the stuck
        rule's window (values have no such gaps)."""
        reach = max(self.threshold.history, self.scorer.history)
        stuck = 0 if self.stuck is None else self.stuck.history
        return max(2 * (self.smoothing_length + reach), stuck)

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
        is none); filled points (not `observed`) and points without a prediction have no
        residual and are never anomalous."""
        residual = np.where(observed & np.isfinite(predicted), values - predicted, np.nan)
        high, low = (
            self._side(errors, steps, start, reference_scale)
            for errors in side_errors(limit_residuals(residual))
        )
        # Report the side that fired; when both or neither did, the more unusual one.
        use_low = (low.flagged & ~high.flagged) | (
            (low.flagged == high.flagged) & (low.score > high.score)
        )
        # Smoothed errors reach over points without a residual (a segment's warm-up after a
        # gap): those points are never anomalous themselves.
        forecast = RuleFlags(
            flagged=(high.flagged | low.flagged) & np.isfinite(residual[start:]),
            score=np.where(use_low, low.score, high.score),
            threshold=np.where(use_low, low.threshold, high.threshold),
        )
        direction = np.where(use_low, "low", "high")
        undecided = (forecast.score < 0) | ~np.isfinite(forecast.threshold)
        rules = self._rules(values, steps, start, residual[start:], undecided, reference_scale)
        return _combine(start, predicted, residual, forecast, direction, rules)

    def _side(
        self, errors: np.ndarray, steps: np.ndarray, start: int, reference_scale: float | None
    ) -> SideDecisions:
        smoothed = smooth_errors(errors, self.smoothing_span, self.smoothing_length)
        result = self.threshold.decide(smoothed, steps, start, reference_scale=reference_scale)
        scores = self.scorer.score(smoothed, start)
        flagged = result.anomalous & np.isfinite(scores) & (scores >= self.min_score)
        return SideDecisions(result.threshold, np.nan_to_num(scores, nan=-1.0), flagged)

    def _rules(
        self,
        values: np.ndarray,
        steps: np.ndarray,
        start: int,
        residual: np.ndarray,
        undecided: np.ndarray,
        reference_scale: float | None,
    ) -> list[tuple[str, RuleFlags]]:
        """The flags of the rules beside the forecast rule, for points with a residual."""
        rules = []
        if self.extreme is not None:
            level = extreme_level(self.extreme, reference_scale)
            rules.append(("extreme", extreme_flags(residual, undecided, level, self.min_score)))
        if self.stuck is not None:
            stuck = self.stuck.decide(values, steps, start, self.min_score)
            rules.append(("stuck", replace(stuck, flagged=stuck.flagged & np.isfinite(residual))))
        return rules


def _combine(
    start: int,
    predicted: np.ndarray,
    residual: np.ndarray,
    forecast: RuleFlags,
    direction: np.ndarray,
    rules: list[tuple[str, RuleFlags]],
) -> Decisions:
    """Decisions from the forecast rule and the others: a point is anomalous when any rule
    fires; the rule that fired with the highest score reports its score and threshold (a
    rule beside the forecast one reports the residual's sign as direction)."""
    anomalous, score, threshold = forecast.flagged, forecast.score, forecast.threshold
    rule = np.where(anomalous, "forecast", "")
    sign = np.where(residual[start:] < 0, "low", "high")
    for name, flags in rules:
        better = flags.flagged & (~anomalous | (flags.score > score))
        score = np.where(better, flags.score, score)
        threshold = np.where(better, flags.threshold, threshold)
        direction = np.where(better, sign, direction)
        rule = np.where(better, name, rule)
        anomalous = anomalous | flags.flagged
    return Decisions(
        positions=np.arange(start, len(residual)),
        predicted=predicted[start:],
        residual=residual[start:],
        threshold=threshold,
        score=np.where(score < 0, np.nan, score),
        anomalous=anomalous,
        direction=direction,
        rule=rule,
    )
