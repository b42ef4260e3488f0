"""A trained model with its preprocessing: one-step predictions over a series and forecasts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecaster.config import ModelSettings
from forecaster.inference import RecurrentForward, predict_plan
from forecaster.timeseries import RegularSeries, future_index
from forecaster.windowing import Scaler, model_inputs, scoring_plan, seasonal_period


@dataclass(frozen=True)
class TrainedModel:
    """Everything needed to score a series: weights, scaling, frequency and the forecast band."""

    settings: ModelSettings
    frequency: str
    scaler: Scaler
    weights: list[np.ndarray]
    band: np.ndarray  # (horizon, 2): residual quantiles (lower, upper) in original units
    trained_from: pd.Timestamp
    trained_to: pd.Timestamp
    seed: int
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Forecast:
    """Forecast values for the grid times after the last point, with a band."""

    issued_at: pd.Timestamp
    index: pd.DatetimeIndex
    predicted: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def horizon_outputs(
    model: TrainedModel, series: RegularSeries, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled horizon outputs for `positions` that have enough history, and those positions.

    Row k holds the forecasts of positions targets[k], targets[k] + 1, … (the output after
    the point before targets[k]). Cost: about (len(positions) + window + chunk) cell steps.
    """
    period = seasonal_period(model.settings.seasonality, model.frequency)
    inputs = model_inputs(series, model.scaler, model.settings.calendar, period)
    plan = scoring_plan(
        series.steps,
        series.segment_starts,
        window=model.settings.window,
        chunk=model.settings.scoring_chunk,
        positions=positions,
    )
    # The network outputs changes from the last input value (see training_sequences).
    last_value = inputs[plan.targets - 1, 0] if len(plan.targets) else np.zeros(0, np.float32)
    forward = RecurrentForward(model.settings, model.weights)
    return predict_plan(forward, inputs, plan) + last_value[:, None], plan.targets


def one_step_predictions(
    model: TrainedModel, series: RegularSeries, positions: np.ndarray
) -> np.ndarray:
    """Predicted value of each position from the points before it; NaN during warm-up."""
    positions = np.asarray(positions, dtype=np.int64)
    outputs, targets = horizon_outputs(model, series, positions)
    predicted = np.full(len(positions), np.nan)
    where = np.searchsorted(positions, targets)
    predicted[where] = model.scaler.inverse(outputs[:, 0].astype(float))
    return predicted


def forecast_next(model: TrainedModel, series: RegularSeries) -> Forecast | None:
    """The next `horizon` values after the series' last point; None without enough history."""
    return predict_and_forecast(model, series, np.zeros(0, dtype=np.int64))[1]


def predict_and_forecast(
    model: TrainedModel, series: RegularSeries, positions: np.ndarray
) -> tuple[np.ndarray, Forecast | None]:
    """`one_step_predictions` of `positions` and `forecast_next`, from one pass of the network
    (the values are the same as from the two calls: each run is computed alike)."""
    positions = np.asarray(positions, dtype=np.int64)
    wanted = np.append(positions, len(series))
    outputs, targets = horizon_outputs(model, series, wanted)
    predicted = np.full(len(positions), np.nan)
    scored = targets < len(series)
    where = np.searchsorted(positions, targets[scored])
    predicted[where] = model.scaler.inverse(outputs[scored, 0].astype(float))
    if len(targets) == 0 or targets[-1] != len(series):
        return predicted, None
    return predicted, _forecast(model, series, outputs[-1])


def _forecast(model: TrainedModel, series: RegularSeries, scaled: np.ndarray) -> Forecast:
    predicted = model.scaler.inverse(scaled.astype(float))
    return Forecast(
        issued_at=series.index[-1],
        index=future_index(series, model.settings.horizon),
        predicted=predicted,
        lower=predicted + model.band[:, 0],
        upper=predicted + model.band[:, 1],
    )
