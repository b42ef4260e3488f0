"""Seasonal lag inputs: the season length per frequency and the lag lookup over gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.model.features import model_inputs, n_features, seasonal_features, seasonal_period
from forecaster.model.scaling import Scaler
from forecaster.series.regular import regularize


@pytest.mark.parametrize(
    ("setting", "frequency", "expected"),
    [
        ("auto", "5min", 288),
        ("auto", "h", 24),
        ("auto", "1min", 1440),
        ("auto", "D", 7),
        ("auto", "B", 5),
        ("auto", "7min", None),  # does not divide a day
        ("auto", "10s", None),  # 8640 steps a day: too long a lag to read
        ("auto", "W", None),
        ("auto", "MS", None),
        ("none", "5min", None),
        (12, "5min", 12),
    ],
)
def test_seasonal_period(setting: int | str, frequency: str, expected: int | None) -> None:
    assert seasonal_period(setting, frequency) == expected


def test_seasonal_features_look_up_the_value_one_season_before_the_next_step() -> None:
    index = pd.date_range("2024-01-01", periods=12, freq="h", tz="UTC")
    raw = pd.Series(np.arange(12.0), index=index).drop(index[[5, 6, 7, 8]])  # a long gap
    series = regularize(raw, "h", max_gap_fill=0)
    scaled = series.values.copy()
    features = seasonal_features(series, scaled, period=3)
    # Position p sees the value at step steps[p] + 1 - 3, when that step was read.
    expected = {0: None, 1: None, 2: 0.0, 3: 1.0, 4: 2.0, 5: None, 6: None, 7: 9.0}
    for position, value in expected.items():
        if value is None:
            assert features[position].tolist() == [0.0, 0.0], position
        else:
            assert features[position].tolist() == [value, 1.0], position
    assert np.all(seasonal_features(series, scaled, None) == 0.0)


def test_model_inputs_width_matches_n_features() -> None:
    index = pd.date_range("2024-01-01", periods=50, freq="h", tz="UTC")
    series = regularize(pd.Series(np.sin(np.arange(50.0)), index=index), "h", 3)
    inputs = model_inputs(series, Scaler(0.0, 1.0), ["hour_of_day"], 24)
    assert inputs.shape == (50, n_features(["hour_of_day"]))
    assert inputs.dtype == np.float32
