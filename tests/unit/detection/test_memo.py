"""The carried detection memo: a daemon's cycles decide the same bits with it as without it."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.config.detection import DetectionSettings
from forecaster.detection.decide import Decisions, Detector
from forecaster.detection.memo import DetectionMemo, FitMemo
from forecaster.detection.thresholds.dynamic import DynamicThreshold

SEASON = 48


def series(n: int, seed: int, incident: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily-patterned values, one-step predictions (a few missing), an incident at position
    `incident` and grid steps with a gap."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 10 * np.sin(2 * np.pi * t / SEASON) + rng.normal(0, 1, n)
    predicted = values + rng.normal(0, 1, n)
    values[incident : incident + 6] += 9  # the rules fire on it
    predicted[rng.choice(n, n // 50, replace=False)] = np.nan
    steps = t.astype(np.int64)
    steps[n // 3 :] += 5  # a gap on the grid
    return values, predicted, steps


def same(a: Decisions, b: Decisions) -> bool:
    return all(
        np.array_equal(
            getattr(a, name), getattr(b, name), equal_nan=getattr(a, name).dtype == float
        )
        for name in a.__dataclass_fields__
    )


def cycles(detector: Detector, new: int, memo: DetectionMemo | None, seed: int) -> list[Decisions]:
    """Decisions of a sliding context with `new` points per cycle, as a daemon makes them."""
    context = detector.context_points(SEASON)
    values, predicted, steps = series(context + 40 * new, seed, context + 20 * new + 3)
    observed = np.ones(values.size, dtype=bool)
    out = []
    for i in range(40):
        lo, hi = i * new, context + (i + 1) * new
        out.append(
            detector.decide(
                values[lo:hi],
                observed[lo:hi],
                predicted[lo:hi],
                steps[lo:hi],
                context,
                reference_scale=1.0,
                season=SEASON,
                memo=memo,
            )
        )
    return out


@pytest.mark.parametrize("new", [1, 7, 150])
def test_carried_memo_decides_the_same_bits_as_none(new: int) -> None:
    detector = Detector.from_settings(DetectionSettings())
    fresh = cycles(detector, new, None, seed=new)
    carried = cycles(detector, new, DetectionMemo(), seed=new)
    assert all(same(a, b) for a, b in zip(fresh, carried, strict=True))
    assert sum(int(d.anomalous.sum()) for d in fresh) > 0  # the comparison covers anomalies


def test_memo_of_other_inputs_or_another_detector_changes_nothing() -> None:
    detector = Detector.from_settings(DetectionSettings())
    memo = DetectionMemo()
    cycles(detector, 5, memo, seed=1)  # a memo of another series
    assert all(
        same(a, b)
        for a, b in zip(cycles(detector, 5, None, 2), cycles(detector, 5, memo, 2), strict=True)
    )
    other = Detector.from_settings(DetectionSettings(smoothing_span=5, smoothing_length=30))
    assert all(
        same(a, b)
        for a, b in zip(cycles(other, 5, None, 2), cycles(other, 5, memo, 2), strict=True)
    )


def test_a_fit_is_computed_once_per_window() -> None:
    calls: list[int] = []

    def fit(history: np.ndarray, linked: np.ndarray, scale: float | None) -> float:
        calls.append(history.size)
        return float(history.max())

    fits = FitMemo()
    history = np.arange(10.0)
    linked = np.ones(10, dtype=bool)
    owner, other = DynamicThreshold(), DynamicThreshold(z_max=5.0)
    level = fits.level(history, linked, 1.0, fit, owner)
    assert fits.level(history.copy(), linked, 1.0, fit, DynamicThreshold()) == level
    assert len(calls) == 1  # the same window and settings, a threshold built anew
    fits.level(history, linked, 2.0, fit, owner)  # another reference scale: another fit
    fits.level(history, linked, 1.0, fit, other)  # other settings: another fit
    history[3] = 4.5
    fits.level(history, linked, 1.0, fit, owner)
    assert len(calls) == 4
