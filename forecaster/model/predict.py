"""A trained model with its preprocessing: one-step predictions over a series and forecasts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecaster.config.model import ModelSettings
from forecaster.model.features import model_inputs, seasonal_period
from forecaster.model.forward import LayerState, RecurrentForward, RunState, predict_plan
from forecaster.model.scaling import Scaler
from forecaster.model.scoring_plan import scoring_plan
from forecaster.series.regular import RegularSeries, future_index


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
    # Forecast the last value at every step instead of the network's output (the network did
    # worse than that on its validation span: `ModelSettings.persistence_fallback`).
    persistence: bool = False


@dataclass(frozen=True)
class Forecast:
    """Forecast values for the grid times after the last point, with a band."""

    issued_at: pd.Timestamp
    index: pd.DatetimeIndex
    predicted: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True)
class NetworkState:
    """A scoring run's recurrent state after a series' last point, by grid steps, so the next
    call with that model and more points goes on from it (same values, far fewer steps)."""

    start_step: int  # grid step of the run's first input
    last_step: int  # grid step of the last input consumed
    layers: tuple[LayerState, ...]


def horizon_outputs(
    model: TrainedModel,
    series: RegularSeries,
    positions: np.ndarray,
    *,
    resume: NetworkState | None = None,
    keep: bool = False,
) -> tuple[np.ndarray, np.ndarray, NetworkState | None]:
    """Scaled horizon outputs (float64) for `positions` that have enough history, those
    positions, and (with `keep`) the state after the series' last point.

    Row k holds the forecasts of positions targets[k], targets[k] + 1, … (the output after
    the point before targets[k]). Cost: about (len(positions) + window + chunk) cell steps,
    or the steps after `resume` (a state kept by an earlier call with the same model).
    """
    plan = scoring_plan(
        series.steps,
        series.segment_starts,
        window=model.settings.window,
        chunk=model.settings.scoring_chunk,
        positions=positions,
    )
    # The network outputs changes from the last value (see training_sequences). They start
    # from the unclipped scaled value (float64): where it lies beyond the clip bounds (a
    # level shift out of the training range) forecasts still follow it.
    last_value = model.scaler.transform(series.values[plan.targets - 1])
    if model.persistence:  # no change from the last value at any step; no network state
        return np.repeat(last_value[:, None], model.settings.horizon, axis=1), plan.targets, None
    period = seasonal_period(model.settings.seasonality, model.frequency)
    inputs = model_inputs(series, model.scaler, model.settings.calendar, period)
    forward = RecurrentForward(model.settings, model.weights)
    outputs, kept = predict_plan(
        forward, inputs, plan, resume=_run_state(series, resume), keep=keep
    )
    state = None
    if kept is not None:
        steps = series.steps
        state = NetworkState(int(steps[kept.start]), int(steps[kept.last]), kept.layers)
    return outputs + last_value[:, None], plan.targets, state


def _run_state(series: RegularSeries, state: NetworkState | None) -> RunState | None:
    """`state` in positions of `series`, when the points it has seen are still there with
    no gap (then the run it belongs to starts and reads alike here)."""
    if state is None:
        return None
    steps = series.steps
    start, last = np.searchsorted(steps, [state.start_step, state.last_step])
    if last >= len(steps) or steps[start] != state.start_step or steps[last] != state.last_step:
        return None
    if last - start != state.last_step - state.start_step:
        return None
    return RunState(start=int(start), last=int(last), layers=state.layers)


def one_step_predictions(
    model: TrainedModel, series: RegularSeries, positions: np.ndarray
) -> np.ndarray:
    """Predicted value of each position from the points before it; NaN during warm-up."""
    positions = np.asarray(positions, dtype=np.int64)
    outputs, targets, _ = horizon_outputs(model, series, positions)
    predicted = np.full(len(positions), np.nan)
    where = np.searchsorted(positions, targets)
    predicted[where] = model.scaler.inverse(outputs[:, 0].astype(float))
    return predicted


def forecast_next(model: TrainedModel, series: RegularSeries) -> Forecast | None:
    """The next `horizon` values after the series' last point; None without enough history."""
    return predict_and_forecast(model, series, np.zeros(0, dtype=np.int64))[1]


def predict_and_forecast(
    model: TrainedModel,
    series: RegularSeries,
    positions: np.ndarray,
    *,
    resume: NetworkState | None = None,
) -> tuple[np.ndarray, Forecast | None, NetworkState | None]:
    """`one_step_predictions` of `positions` and `forecast_next`, from one pass of the network
    (the values are the same as from the two calls: each run is computed alike), and the
    network state after the last point, from which a later call with `resume` goes on."""
    positions = np.asarray(positions, dtype=np.int64)
    wanted = np.append(positions, len(series))
    outputs, targets, state = horizon_outputs(model, series, wanted, resume=resume, keep=True)
    predicted = np.full(len(positions), np.nan)
    scored = targets < len(series)
    where = np.searchsorted(positions, targets[scored])
    predicted[where] = model.scaler.inverse(outputs[scored, 0].astype(float))
    if len(targets) == 0 or targets[-1] != len(series):
        return predicted, None, state
    return predicted, _forecast(model, series, outputs[-1]), state


def _forecast(model: TrainedModel, series: RegularSeries, scaled: np.ndarray) -> Forecast:
    predicted = model.scaler.inverse(scaled.astype(float))
    return Forecast(
        issued_at=series.index[-1],
        index=future_index(series, model.settings.horizon),
        predicted=predicted,
        lower=predicted + model.band[:, 0],
        upper=predicted + model.band[:, 1],
    )
