"""Forecasts and thresholds to anomaly decisions and events; pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.detection_settings import DetectionSettings
from forecaster.residuals import side_errors, smooth_errors, tail_scores
from forecaster.thresholds import Threshold

# Score bands of the `severity` column: score = z² / (1 + z²), so these are 10, 6 and 4
# standard deviations of the recent smoothed errors.
SEVERITY_LEVELS: tuple[tuple[str, float], ...] = (
    ("critical", 100 / 101),
    ("high", 36 / 37),
    ("medium", 16 / 17),
    ("low", 0.0),
)


def severity_of(score: float) -> str:
    """The severity label of a score in [0, 1]."""
    for label, floor in SEVERITY_LEVELS:
        if score >= floor:
            return label
    return "low"


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


@dataclass(frozen=True)
class OpenEvent:
    """The last stored event of a series, which new anomalies may extend."""

    start_ts: pd.Timestamp
    end_ts: pd.Timestamp
    end_step: int | None  # grid step of end_ts, None when it is outside the span read
    peak_ts: pd.Timestamp
    peak_score: float
    n_points: int
    direction: str


@dataclass(frozen=True)
class EventDraft:
    """An event to upsert, keyed by its start time."""

    start_ts: pd.Timestamp
    end_ts: pd.Timestamp
    peak_ts: pd.Timestamp
    peak_score: float
    n_points: int
    direction: str

    @property
    def severity(self) -> str:
        return severity_of(self.peak_score)


def group_events(
    times: pd.DatetimeIndex,
    steps: np.ndarray,
    scores: np.ndarray,
    directions: np.ndarray,
    *,
    merge_gap: int,
    open_event: OpenEvent | None = None,
) -> list[EventDraft]:
    """Group anomalous points (time order) into events; points at most `merge_gap` grid steps
    apart share one. The first group extends `open_event` when it is close enough to it."""
    groups: list[list[int]] = []
    for k in range(len(steps)):
        if groups and steps[k] - steps[groups[-1][-1]] - 1 <= merge_gap:
            groups[-1].append(k)
        else:
            groups.append([k])
    drafts = []
    for members in groups:
        peak = max(members, key=lambda k: (scores[k], -k))
        drafts.append(
            EventDraft(
                start_ts=times[members[0]],
                end_ts=times[members[-1]],
                peak_ts=times[peak],
                peak_score=float(scores[peak]),
                n_points=len(members),
                direction=str(directions[peak]),
            )
        )
    if drafts and open_event is not None and open_event.end_step is not None:
        gap = int(steps[groups[0][0]]) - open_event.end_step - 1
        if gap <= merge_gap:
            first = drafts[0]
            better = first.peak_score > open_event.peak_score
            drafts[0] = EventDraft(
                start_ts=open_event.start_ts,
                end_ts=first.end_ts,
                peak_ts=first.peak_ts if better else open_event.peak_ts,
                peak_score=first.peak_score if better else open_event.peak_score,
                n_points=open_event.n_points + first.n_points,
                direction=first.direction if better else open_event.direction,
            )
    return drafts
