"""The rules beside the forecast rule in the Detector: extreme residuals and stuck readings."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from forecaster.config.detection import DetectionSettings
from forecaster.detection.decide import Decisions, Detector
from forecaster.detection.events import Grouping, group_events

SMALL = {
    "scorer": {"window": 200, "min_history": 50},
    "threshold": {"window": 200, "refit_every": 25, "min_history": 50},
}
RMSE = 1.0  # the model's validation RMSE (reference_scale)


def detector(**sections: object) -> Detector:
    return Detector.from_settings(DetectionSettings.model_validate({**SMALL, **sections}))


def noise(n: int = 1500, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, a forecast that misses by unit noise, and the observed flags."""
    rng = np.random.default_rng(seed)
    values = 50 + rng.normal(0, 1, n)
    predicted = np.full(n, 50.0)
    predicted[:30] = np.nan  # the model's warm-up
    return values, predicted, np.ones(n, dtype=bool)


def decide(
    det: Detector, values: np.ndarray, predicted: np.ndarray, reference_scale: float | None = RMSE
) -> Decisions:
    observed = np.ones(len(values), dtype=bool)
    steps = np.arange(len(values)) + 7_000
    return det.decide(values, observed, predicted, steps, 0, reference_scale=reference_scale)


def events(result: Decisions) -> list[tuple[int, int]]:
    """(first, last) position of each event the anomalous points form (merge gap 10)."""
    picks = result.positions[result.anomalous]
    times = pd.date_range("2024-01-01", periods=len(result.positions), freq="h", tz="UTC")
    drafts = group_events(
        times[picks],
        picks,
        result.score[result.anomalous],
        result.direction[result.anomalous],
        grouping=Grouping(merge_gap=10),
    )
    return [(times.get_loc(d.start_ts), times.get_loc(d.end_ts)) for d in drafts]


def test_an_extreme_residual_is_flagged_before_the_threshold_has_any_history() -> None:
    values, predicted, _ = noise()
    values[40] += 1e12  # the model's 11th scored point: no threshold or score exists yet
    values[41] -= 35.0  # 35 RMSE below the forecast
    result = decide(detector(), values, predicted)
    assert np.isnan(result.score[39])  # the forecast rule cannot judge yet
    assert result.anomalous[40] and result.anomalous[41]
    assert list(result.rule[[40, 41]]) == ["extreme", "extreme"]
    assert list(result.direction[[40, 41]]) == ["high", "low"]
    assert result.threshold[40] == 20.0 * RMSE
    assert 0.94 <= result.score[41] < result.score[40] <= 1.0
    assert not result.anomalous[:40].any()
    # Off, or without the model's RMSE, the rule cannot fire.
    assert not decide(detector(extreme={"enabled": False}), values, predicted).anomalous[40]
    assert not decide(detector(), values, predicted, reference_scale=None).anomalous[40]


def test_once_the_forecast_rule_judges_it_alone_judges_large_residuals() -> None:
    values, predicted, _ = noise()
    values[600] += 30.0  # 30 RMSE: beyond the extreme level, long after the warm-up
    values[1000] += 1e12
    result = decide(detector(), values, predicted)
    assert result.anomalous[600] and result.rule[600] == "forecast"
    assert result.anomalous[1000] and result.rule[1000] == "forecast"
    assert result.score[1000] > 0.999
    # Heavy-tailed series make such residuals often; the forecast rule adapts to them.
    calm = decide(detector(extreme={"enabled": False}), values, predicted)
    np.testing.assert_array_equal(calm.anomalous[100:], result.anomalous[100:])


def test_huge_finite_values_raise_no_runtime_warning() -> None:
    values, predicted, _ = noise()
    values[[300, 900]] = [1e300, -1e300]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = decide(detector(), values, predicted)
        stuck = np.r_[values[:500], np.full(40, 1e300)]
        decide(detector(), stuck, np.r_[predicted[:500], np.full(40, 1e300)])
    assert result.anomalous[[300, 900]].all()
    assert np.nanmax(result.score) <= 1.0


def test_a_stuck_reading_the_forecast_follows_is_flagged_by_the_stuck_rule() -> None:
    values, _, _ = noise(seed=4)
    values[800:830] = values[800]  # stuck for 30 points
    predicted = np.r_[np.nan, values[:-1]]  # the one-step forecaster follows it
    result = decide(detector(), values, predicted)
    stuck = result.positions[result.rule == "stuck"]
    assert stuck.tolist() == list(range(809, 830))  # from the 10th repeat to the end
    assert (result.score[stuck] >= 0.94).all() and (result.score[stuck] <= 1.0).all()
    assert (result.threshold[stuck] == 10.0).all()  # the limit: min_run points
    assert events(result) == [(809, 829)]
    assert (
        not decide(detector(stuck={"enabled": False}), values, predicted).anomalous[809:830].any()
    )
    # Points without a forecast are never judged, by any rule.
    unpredicted = predicted.copy()
    unpredicted[805:830] = np.nan
    assert not decide(detector(), values, unpredicted).anomalous[805:830].any()


def test_extreme_settings_are_strict() -> None:
    assert DetectionSettings().extreme.factor == 20.0
    with pytest.raises(ValidationError):
        DetectionSettings.model_validate({"extreme": {"factor": 0}})
    with pytest.raises(ValidationError, match="extra"):
        DetectionSettings.model_validate({"extreme": {"k": 3}})


def test_points_without_a_forecast_are_never_anomalous_even_after_a_burst() -> None:
    # A burst of large errors, then a segment's warm-up (no forecasts) after a long gap: the
    # smoothed errors still reach into the warm-up, its points have no residual to report.
    values, predicted, _ = noise()
    values[600:620] += 8.0
    predicted[620:700] = np.nan
    result = decide(detector(), values, predicted)
    assert result.anomalous[600:620].any()
    assert not result.anomalous[~np.isfinite(predicted)].any()
    assert np.isfinite(result.predicted[result.anomalous]).all()
