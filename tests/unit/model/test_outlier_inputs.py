"""Extreme values as model inputs: a robust scaler, clipped inputs, no seasonal echo, and
forecasts that still follow a level beyond the clip range (numpy forward, no TensorFlow)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecaster.config.model import ModelSettings
from forecaster.model.features import model_inputs
from forecaster.model.predict import TrainedModel, one_step_predictions
from forecaster.model.scaling import LEGACY_CLIP, Scaler, safe_std
from tests.helpers.regular import PERIOD, daily_cycle, hourly

SETTINGS = ModelSettings(units=8, window=12, horizon=3)


def random_model(scaler: Scaler, seed: int = 1) -> TrainedModel:
    """A model with random (trained-looking) weights: enough to exercise the scoring path."""
    rng = np.random.default_rng(seed)
    units, features, gates = SETTINGS.units, 3, 3
    weights = [
        rng.normal(0, 0.5, (features, gates * units)),
        rng.normal(0, 0.3, (units, gates * units)),
        rng.normal(0, 0.1, (2, gates * units)),
        rng.normal(0, 0.1, (units + features, SETTINGS.horizon)),
        rng.normal(0, 0.05, SETTINGS.horizon),
    ]
    return TrainedModel(
        settings=SETTINGS,
        frequency="h",
        scaler=scaler,
        weights=[w.astype(np.float32) for w in weights],
        band=np.zeros((SETTINGS.horizon, 2)),
        trained_from=pd.Timestamp("2024-01-01", tz="UTC"),
        trained_to=pd.Timestamp("2024-01-20", tz="UTC"),
        seed=0,
    )


def test_the_scaler_ignores_a_spike_and_bounds_the_inputs() -> None:
    values = daily_cycle(600)
    spiked = values.copy()
    spiked[200] = 1e12
    clean, robust = Scaler.fit(values), Scaler.fit(spiked)
    assert abs(robust.center - clean.center) < 0.05 and abs(robust.scale / clean.scale - 1) < 0.02
    # Bounds: the 1st-99th percentile range widened by clip_sigmas (20) robust sigmas.
    q01, q99 = np.percentile(robust.transform(spiked), [1, 99])
    assert (robust.low, robust.high) == (q01 - 20.0, q99 + 20.0)
    assert robust.clipped(np.array([1e12]))[0] == robust.high
    assert Scaler.fit(spiked, clip_sigmas=3.0).high == q99 + 3.0


def test_a_repeated_middle_value_falls_back_to_wider_quantile_ranges() -> None:
    rng = np.random.default_rng(4)
    values = np.where(rng.random(1000) < 0.8, 0.0, rng.exponential(5.0, 1000))  # idle mostly
    values[10] = 1e12
    scaler = Scaler.fit(values)
    q10, q90 = np.percentile(values, [10, 90])
    assert scaler.center == 0.0 and scaler.scale == (q90 - q10) / 2.563
    assert np.isclose(safe_std(np.array([1e300, -1e300])), 1e300)  # no overflow


def test_scaler_dicts_round_trip_and_old_ones_get_wide_bounds() -> None:
    scaler = Scaler.fit(daily_cycle(600))
    assert Scaler.from_dict(scaler.to_dict()) == scaler
    old = Scaler.from_dict({"center": 1.0, "scale": 2.0})
    assert (old.low, old.high) == (-LEGACY_CLIP, LEGACY_CLIP)


def test_an_extreme_value_is_a_bounded_input_and_no_seasonal_lag() -> None:
    values = daily_cycle(600)
    values[200] = 1e300
    series = hourly(values)
    scaler = Scaler.fit(values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inputs = model_inputs(series, scaler, [], PERIOD)
    assert np.isfinite(inputs).all()
    assert inputs[200, 0] == np.float32(scaler.high)
    # Position p carries the lag of step p + 1 - PERIOD: the glitch's lag is absent there,
    # as after a gap, so it cannot come back as a forecast one season later.
    lag_of_glitch = 200 + PERIOD - 1
    assert inputs[lag_of_glitch, 1:3].tolist() == [0.0, 0.0]
    assert inputs[lag_of_glitch - 1, 2] == 1.0 and inputs[lag_of_glitch + 1, 2] == 1.0


def test_numpy_forecasts_stay_finite_and_follow_a_level_beyond_the_clip_range() -> None:
    values = daily_cycle(600)
    scaler = Scaler.fit(values[:400])
    model = random_model(scaler)
    shifted = values.copy()
    shifted[300] = 1e300  # a glitch
    shifted[450:] += 1000 * scaler.scale  # then a level far beyond the training range
    positions = np.arange(100, len(values))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predicted = one_step_predictions(model, hourly(shifted), positions)
    assert np.isfinite(predicted).all()
    # Forecasts start from the unclipped last value: after the shift they follow the new
    # level (a bounded change from it), though the network's inputs are clipped.
    after = shifted[455:] - predicted[455 - 100 :]
    assert np.abs(after).max() < 20 * scaler.scale
    # Far from the glitch (more than window + chunk steps, and not its seasonal lag), the
    # predictions are those of the series without it.
    clean = one_step_predictions(model, hourly(np.r_[values[:450], shifted[450:]]), positions)
    far = (positions > 300 + SETTINGS.window + SETTINGS.scoring_chunk) & (positions < 450)
    far &= np.abs(positions - (300 + PERIOD)) > SETTINGS.window + SETTINGS.scoring_chunk
    np.testing.assert_array_equal(predicted[far], clean[far])
