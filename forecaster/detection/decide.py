"""One-step forecasts to anomaly decisions: the forecast rule and the rules beside it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forecaster.config.detection import DetectionSettings
from forecaster.detection.errors import side_errors, smooth_errors
from forecaster.detection.extreme import limit_residuals
from forecaster.detection.memo import DetectionMemo
from forecaster.detection.registry import rules_from, scorer_from, threshold_from
from forecaster.detection.rules import Rule, RuleFlags, RuleInputs
from forecaster.detection.scores.base import Scorer
from forecaster.detection.seasonal import SeasonalSettings, explained_by_season, seasonal_reach
from forecaster.detection.thresholds.base import Threshold

# The share of the smoothed error a forecast-rule point's own error must reach.
OWN_SHARE = 0.5


@dataclass(frozen=True)
class Decisions:
    """Per-point results for the decided positions of a span (arrays of equal length)."""

    positions: np.ndarray  # into the span's arrays
    predicted: np.ndarray
    residual: np.ndarray
    # The level the reporting rule's measure reached: ε of the reported side on the smoothed
    # error scale (forecast), factor * RMSE (extreme), the run-length limit in points (stuck),
    # the widened half-range (range).
    threshold: np.ndarray
    # [0, 1] at anomalous points (the reporting rule's), NaN elsewhere: scorers skip the
    # points no threshold flags. `threshold` and `direction` also describe anomalous points.
    score: np.ndarray
    anomalous: np.ndarray
    direction: np.ndarray  # "high": observed above the forecast, "low": below
    # Which rule reports an anomalous point: "forecast", "extreme", "stuck", "range" or
    # "flat_start" ("" where not anomalous).
    rule: np.ndarray
    # Every rule that flagged an anomalous point, comma-separated in a fixed order.
    signals: np.ndarray


@dataclass(frozen=True)
class SideDecisions:
    """One side's (high or low) threshold, scores and flags for the decided positions."""

    threshold: np.ndarray
    # At flagged points the score; elsewhere -1 where there is none (so it never wins a
    # comparison), else a score or a placeholder in [0, 1] (see Scorer.score_where).
    score: np.ndarray
    flagged: np.ndarray


@dataclass(frozen=True)
class Detector:
    """A pipeline's detection chain. The forecast rule: residuals split by side, each side
    smoothed (truncated EWMA), scored and thresholded; a side is anomalous at a point whose
    smoothed error crosses its threshold with a score of at least `min_score` and whose own
    error reaches that threshold too (so the smoothed tail after a spike flags no normal
    point) and `min_error` times the model's validation RMSE, unless the season explains the
    error (`seasonal`). Beside it, `rules` (extreme residuals, stuck runs, the value range)
    flag points of their own; any rule makes a point anomalous, and the one with the highest
    score reports it."""

    smoothing_span: int
    smoothing_length: int
    scorer: Scorer
    threshold: Threshold
    min_score: float
    min_error: float = 0.0
    seasonal: SeasonalSettings = field(default_factory=lambda: SeasonalSettings(enabled=False))
    rules: tuple[Rule, ...] = ()

    @classmethod
    def from_settings(cls, settings: DetectionSettings) -> Detector:
        return cls(
            smoothing_span=settings.smoothing_span,
            smoothing_length=settings.smoothing_length,
            scorer=scorer_from(settings.scorer),
            threshold=threshold_from(settings.threshold),
            min_score=settings.min_score,
            min_error=settings.min_error,
            seasonal=settings.seasonal,
            rules=rules_from(settings),
        )

    def context_points(self, season: int | None = None) -> int:
        """Points of history before the first new point that decisions may depend on (the
        smoothing kernel and the farther-reaching part), doubled so warm-up gaps (NaN
        errors) inside the history cannot make a decision reach further; at least the reach
        of the other rules (values have no such gaps) and of a `season` (grid steps)."""
        reach = max(self.threshold.history, self.scorer.history)
        rules = max((rule.history for rule in self.rules), default=0)
        seasonal = seasonal_reach(self.seasonal, season)
        return max(2 * (self.smoothing_length + reach), rules, 2 * seasonal)

    def decide(
        self,
        values: np.ndarray,
        observed: np.ndarray,
        predicted: np.ndarray,
        steps: np.ndarray,
        start: int,
        *,
        reference_scale: float | None,
        season: int | None = None,
        memo: DetectionMemo | None = None,
    ) -> Decisions:
        """Judge positions start..n-1 using only values, predictions and errors up to each
        point. `predicted` holds the one-step prediction of every position (NaN where there
        is none); filled points (not `observed`) and points without a prediction have no
        residual and are never anomalous. `season`: the series' season in grid steps.
        `memo`: the series' carried threshold fits from its last decisions (updated here; the
        same results without it, computed for less)."""
        memo = DetectionMemo() if memo is None else memo
        residual = np.where(observed & np.isfinite(predicted), values - predicted, np.nan)
        high_errors, low_errors = side_errors(limit_residuals(residual))
        high = self._side("high", high_errors, steps, start, reference_scale, memo)
        low = self._side("low", low_errors, steps, start, reference_scale, memo)
        # Report the side that fired; when both or neither did, the more unusual one.
        use_low = (low.flagged & ~high.flagged) | (
            (low.flagged == high.flagged) & (low.score > high.score)
        )
        explained = explained_by_season(residual, steps, start, season, self.seasonal)
        # Smoothed errors reach over points without a residual (a segment's warm-up after a
        # gap): those points are never anomalous themselves.
        forecast = RuleFlags(
            flagged=(high.flagged | low.flagged) & np.isfinite(residual[start:]) & ~explained,
            score=np.where(use_low, low.score, high.score),
            threshold=np.where(use_low, low.threshold, high.threshold),
        )
        direction = np.where(use_low, "low", "high")
        undecided = (forecast.score < 0) | ~np.isfinite(forecast.threshold)
        inputs = RuleInputs(
            values=values,
            observed=observed,
            steps=steps,
            start=start,
            residual=residual[start:],
            undecided=undecided,
            reference_scale=reference_scale,
            min_score=self.min_score,
        )
        rules = [(rule.name, rule.flags(inputs)) for rule in self.rules]
        return _combine(start, predicted, residual, forecast, direction, rules)

    def _side(
        self,
        side: str,
        errors: np.ndarray,
        steps: np.ndarray,
        start: int,
        reference_scale: float | None,
        memo: DetectionMemo,
    ) -> SideDecisions:
        smoothed = smooth_errors(errors, self.smoothing_span, self.smoothing_length)
        result = self.threshold.decide(
            smoothed, steps, start, reference_scale=reference_scale, fits=memo.fits(side)
        )
        # A point is anomalous by its own error, not by the smoothed memory of an earlier one:
        # its error must reach the threshold and a share of the smoothed error (a point after
        # a spike, with an ordinary error, is in the spike's tail), and be more than the
        # model's routine error (`min_error` RMSEs). NaN: False.
        floor = self.min_error * reference_scale if reference_scale else 0.0
        with np.errstate(invalid="ignore"):
            level = np.maximum(result.threshold, OWN_SHARE * smoothed[start:])
            own = errors[start:] >= np.maximum(level, floor)
        # Only those points' scores matter (the others are not anomalous by this rule); every
        # point's says whether the scorer has the history to judge it.
        crossed = result.anomalous & own
        scores = self.scorer.score_where(smoothed, start, crossed)
        flagged = crossed & np.isfinite(scores) & (scores >= self.min_score)
        return SideDecisions(result.threshold, np.nan_to_num(scores, nan=-1.0), flagged)


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
        score=np.where(anomalous & (score >= 0), score, np.nan),
        anomalous=anomalous,
        direction=direction,
        rule=rule,
        signals=_signals(
            [("forecast", forecast.flagged), *((name, f.flagged) for name, f in rules)], anomalous
        ),
    )


def _signals(fired: list[tuple[str, np.ndarray]], anomalous: np.ndarray) -> np.ndarray:
    """For each anomalous point, the rules that flagged it, comma-separated in `fired` order
    ("" elsewhere); built for the anomalous points only, a few in a span."""
    signals = np.full(anomalous.size, "", dtype=object)
    for k in np.flatnonzero(anomalous):
        signals[k] = ",".join(name for name, flagged in fired if flagged[k])
    return signals.astype(str)
