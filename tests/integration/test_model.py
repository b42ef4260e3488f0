"""The RNN forecaster on real tiny Keras models: learning, determinism, sequence scoring, store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.config.model import ModelSettings
from forecaster.errors import ModelArtifactError, ModelNotFound, SeriesTooShort, SeriesUnusable
from forecaster.model import store
from forecaster.model.features import model_inputs, seasonal_period
from forecaster.model.forward import RecurrentForward
from forecaster.model.network import NetworkPool
from forecaster.model.predict import (
    TrainedModel,
    forecast_next,
    one_step_predictions,
    predict_and_forecast,
)
from forecaster.model.scaling import Scaler
from forecaster.model.scoring_plan import scoring_plan
from forecaster.model.train import train_model
from forecaster.series.regular import RegularSeries, regularize
from pipelines.model_runtime import ModelRuntime

TINY = ModelSettings(
    units=12, window=24, horizon=4, epochs=25, batch_size=32, max_train_samples=384, patience=5
)


@pytest.fixture(scope="module")
def pool() -> NetworkPool:
    return NetworkPool()


def make_series(values: np.ndarray, freq: str = "h", start: str = "2024-01-01") -> RegularSeries:
    index = pd.date_range(start, periods=len(values), freq=freq, tz="UTC")
    return regularize(pd.Series(values, index=index, name="test"), None, 3)


def noisy_sine(n: int = 1500, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 10 + 3 * np.sin(np.arange(n) * 2 * np.pi / 24) + rng.normal(0, 0.3, n)


def train(pool: NetworkPool, series: RegularSeries, settings: ModelSettings = TINY) -> TrainedModel:
    return train_model(series, settings, pool.for_settings(settings), seed=7, name="test")


@pytest.fixture(scope="module")
def sine_model(pool: NetworkPool) -> tuple[TrainedModel, RegularSeries]:
    series = make_series(noisy_sine())
    return train(pool, series), series


def test_learns_a_noisy_sine(sine_model: tuple[TrainedModel, RegularSeries]) -> None:
    model, _ = sine_model
    # Validation one-step error: near the noise level (0.3), far below the series' std (2.1).
    assert model.metrics["mae"] < 0.2 * model.metrics["series_std"]
    assert model.metrics["mae"] < model.metrics["naive_mae"]
    assert model.metrics["band_from"] == "validation"


def test_learns_trend_and_seasonality(pool: NetworkPool) -> None:
    n = 1500
    rng = np.random.default_rng(1)
    t = np.arange(n)
    values = 0.01 * t + 2 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.2, n)
    model = train(pool, make_series(values))
    assert model.metrics["mae"] < 0.2 * model.metrics["series_std"]


def test_forecast_band_and_times(
    pool: NetworkPool, sine_model: tuple[TrainedModel, RegularSeries]
) -> None:
    model, series = sine_model
    forecast = forecast_next(model, series)
    assert forecast is not None
    assert forecast.issued_at == series.index[-1]
    assert list(forecast.index) == list(
        pd.date_range(series.index[-1], periods=5, freq="h", tz="UTC")[1:]
    )
    assert np.all(forecast.lower < forecast.predicted)
    assert np.all(forecast.predicted < forecast.upper)
    # The next true values of the sine (without noise) fall inside the 90% band.
    t = np.arange(len(series), len(series) + 4)
    truth = 10 + 3 * np.sin(t * 2 * np.pi / 24)
    assert np.all((forecast.lower < truth) & (truth < forecast.upper))


def test_sequence_mode_matches_sliding_windows(
    pool: NetworkPool, sine_model: tuple[TrainedModel, RegularSeries]
) -> None:
    model, series = sine_model
    network = pool.for_settings(TINY)
    network.weights = model.weights
    positions = np.arange(TINY.window, len(series))
    sequence = one_step_predictions(model, series, positions)
    period = seasonal_period(TINY.seasonality, series.frequency)
    inputs = model_inputs(series, model.scaler, TINY.calendar, period)
    windows = np.stack([inputs[p - TINY.window : p] for p in positions])
    windowed_change = network.predict_windows(windows)[:, 0]
    windowed = model.scaler.inverse(windowed_change + inputs[positions - 1, 0])
    difference = np.abs(sequence - windowed)
    # After one window of warm-up the carried state has mostly forgotten where it started:
    # the two ways of scoring differ by far less than the forecast error itself.
    mae = model.metrics["mae"]
    assert np.median(difference) < 0.3 * mae
    assert np.quantile(difference, 0.95) < 0.6 * mae
    assert np.max(difference) < 0.05 * series.values.std() + mae


@pytest.mark.parametrize(
    "settings",
    [TINY, TINY.model_copy(update={"cell": "lstm"}), TINY.model_copy(update={"layers": 2})],
    ids=["gru", "lstm", "two-layers"],
)
def test_numpy_forward_matches_keras(pool: NetworkPool, settings: ModelSettings) -> None:
    network = pool.for_settings(settings)
    network.reset(11)
    rng = np.random.default_rng(3)
    # Trained-looking weights: Keras' initial ones scaled up so every gate matters.
    network.weights = [
        w * rng.uniform(0.5, 2.0) + rng.normal(0, 0.1, w.shape).astype(np.float32)
        for w in network.weights
    ]
    x = rng.normal(0, 1.5, (5, 40, network.n_features)).astype(np.float32)
    expected = network.forward(x)
    forward = RecurrentForward(settings, network.weights)
    np.testing.assert_allclose(forward(x), expected, rtol=1e-4, atol=1e-5)
    # Computing fewer steps changes nothing before them (the network is causal).
    np.testing.assert_array_equal(forward.hidden(x, steps=17)[:17], forward.hidden(x)[:17])


def test_incremental_scoring_equals_full_rescoring(
    pool: NetworkPool, sine_model: tuple[TrainedModel, RegularSeries]
) -> None:
    model, series = sine_model
    n, new = len(series), 7
    full = one_step_predictions(model, series, np.arange(n))
    # Read only the tail a daemon would read: the new points plus one window, one chunk and
    # one season (the seasonal lag inputs of the warm-up steps).
    season = seasonal_period(TINY.seasonality, series.frequency)
    assert season == 24
    tail_start = n - new - TINY.window - TINY.scoring_chunk - season
    tail = RegularSeries(
        index=series.index[tail_start:],
        values=series.values[tail_start:],
        observed=series.observed[tail_start:],
        steps=series.steps[tail_start:],
        segment_starts=np.r_[True, series.segment_starts[tail_start + 1 :]],
        frequency=series.frequency,
    )
    positions = np.arange(len(tail) - new, len(tail))
    incremental = one_step_predictions(model, tail, positions)
    np.testing.assert_allclose(incremental, full[-new:], rtol=0, atol=1e-5)
    plan = scoring_plan(
        tail.steps,
        tail.segment_starts,
        window=TINY.window,
        chunk=TINY.scoring_chunk,
        positions=positions,
    )
    assert plan.cell_steps <= new + TINY.window + TINY.scoring_chunk


def test_one_pass_predicts_and_forecasts_exactly_like_two(
    pool: NetworkPool, sine_model: tuple[TrainedModel, RegularSeries]
) -> None:
    model, series = sine_model
    positions = np.arange(len(series) - 5, len(series))
    predicted, ahead, _ = predict_and_forecast(model, series, positions)
    alone = forecast_next(model, series)
    assert ahead is not None and alone is not None
    np.testing.assert_array_equal(predicted, one_step_predictions(model, series, positions))
    np.testing.assert_array_equal(ahead.predicted, alone.predicted)
    np.testing.assert_array_equal(ahead.index, alone.index)


def test_same_seed_same_weights_in_any_order(pool: NetworkPool) -> None:
    settings = TINY.model_copy(update={"epochs": 3})
    a = make_series(noisy_sine(600, seed=1))
    b = make_series(noisy_sine(600, seed=2) * 2)
    first = train(pool, a, settings)
    train(pool, b, settings)
    again = train(pool, a, settings)
    for w1, w2 in zip(first.weights, again.weights, strict=True):
        np.testing.assert_array_equal(w1, w2)


def test_no_training_window_or_prediction_spans_a_long_gap(pool: NetworkPool) -> None:
    values = noisy_sine(900)
    index = pd.date_range("2024-01-01", periods=900, freq="h", tz="UTC")
    keep = np.ones(900, dtype=bool)
    keep[400:450] = False  # a 50-step hole: far longer than max_gap_fill
    series = regularize(pd.Series(values[keep], index=index[keep], name="gappy"), None, 3)
    assert series.segment_starts.sum() == 2
    second = int(np.flatnonzero(series.segment_starts)[1])
    model = train(pool, series)
    predicted = one_step_predictions(model, series, np.arange(len(series)))
    # Nothing is predicted until a full window of the new segment has been seen.
    assert np.isnan(predicted[second : second + TINY.window]).all()
    assert np.isfinite(predicted[second + TINY.window :]).all()
    assert np.isfinite(predicted[TINY.window : second]).all()


def test_too_short_constant_and_empty_series(pool: NetworkPool) -> None:
    with pytest.raises(SeriesTooShort, match="too short"):
        train(pool, make_series(noisy_sine(40)))
    with pytest.raises(SeriesUnusable, match="constant"):
        train(pool, make_series(np.full(500, 3.0)))
    empty = pd.Series([np.nan, np.nan], index=pd.date_range("2024", periods=2, tz="UTC"))
    with pytest.raises(SeriesUnusable, match="no values"):
        regularize(empty, None, 3)
    with pytest.raises(SeriesUnusable, match="constant"):
        Scaler.fit(np.ones(10), "flat")


def test_store_round_trip_gives_identical_predictions(
    tmp_path: Path, pool: NetworkPool, sine_model: tuple[TrainedModel, RegularSeries]
) -> None:
    model, series = sine_model
    network = pool.for_settings(TINY)
    path = store.save_model(tmp_path, "default", "a/b c", 1, model, network)
    assert path == tmp_path / "default" / "a%2Fb%20c" / "1"
    meta = json.loads((path / "meta.json").read_text())
    assert meta["settings"]["window"] == TINY.window and "tensorflow" in meta["libraries"]
    network.reset(123)  # scramble the shared network: loading must bring the weights back
    stored = store.load_model(tmp_path, "default", "a/b c", pool.for_settings)
    assert stored.version == 1
    positions = np.arange(len(series) - 50, len(series) + 1)
    before = one_step_predictions(model, series, positions)
    after = one_step_predictions(stored.model, series, positions)
    np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(stored.model.band, model.band)


def test_the_runtime_keeps_one_loaded_model_per_series(
    tmp_path: Path, pool: NetworkPool, sine_model: tuple[TrainedModel, RegularSeries]
) -> None:
    # A long-running daemon must not accumulate every version it ever loaded.
    model, _ = sine_model
    for version in (1, 2):
        store.save_model(tmp_path, "default", "s", version, model, pool.for_settings(TINY))
    runtime = ModelRuntime(tmp_path)
    second = runtime.load_version("default", "s", 2)
    assert runtime.load_version("default", "s", 2) is second  # read from disk once
    assert runtime.load_version("default", "s", 1).version == 1  # replaces version 2
    assert runtime.load_version("default", "s", 2) is not second
    current = runtime.load_version("default", "s", 2)
    runtime.retain("default", ["s"])
    assert runtime.load_version("default", "s", 2) is current
    runtime.retain("default", [])  # a series no longer processed: its model is dropped
    assert runtime.load_version("default", "s", 2) is not current


def test_missing_and_corrupt_artifacts(
    tmp_path: Path, pool: NetworkPool, sine_model: tuple[TrainedModel, RegularSeries]
) -> None:
    model, _ = sine_model
    with pytest.raises(ModelNotFound):
        store.load_model(tmp_path, "default", "s", pool.for_settings)
    path = store.save_model(tmp_path, "default", "s", 1, model, pool.for_settings(TINY))
    (path / "weights.npz").write_bytes(b"not a zip file")
    with pytest.raises(ModelArtifactError, match="cannot load model weights"):
        store.load_model(tmp_path, "default", "s", pool.for_settings)
    # A store without weights.npz (written by an earlier release) is read through Keras.
    (path / "weights.npz").unlink()
    from_keras = store.load_model(tmp_path, "default", "s", pool.for_settings).model.weights
    for a, b in zip(from_keras, model.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    (path / "model.keras").write_bytes(b"not a zip file")
    with pytest.raises(ModelArtifactError, match="cannot load model weights"):
        store.load_model(tmp_path, "default", "s", pool.for_settings)
    (path / "meta.json").write_text("{ broken")
    with pytest.raises(ModelArtifactError, match="unreadable"):
        store.load_model(tmp_path, "default", "s", pool.for_settings)
    (path / "meta.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ModelArtifactError, match="format_version"):
        store.load_model(tmp_path, "default", "s", pool.for_settings)


def test_a_network_worse_than_the_last_value_forecasts_the_last_value(
    tmp_path: Path, pool: NetworkPool, sine_model: tuple[TrainedModel, RegularSeries]
) -> None:
    kept, series = sine_model
    assert not kept.persistence and kept.metrics["forecast"] == "network"  # it beats naive
    # A network must be 100 times better than the last value to be used: this one is not.
    strict = TINY.model_copy(update={"persistence_fallback": 0.01})
    model = train(pool, series, strict)
    assert model.persistence and model.metrics["forecast"] == "persistence"
    assert model.metrics["network_mae"] == pytest.approx(kept.metrics["mae"])
    assert model.metrics["mae"] == pytest.approx(model.metrics["naive_mae"])
    positions = np.arange(len(series) - 50, len(series))
    predicted = one_step_predictions(model, series, positions)
    np.testing.assert_allclose(predicted, series.values[positions - 1])
    predicted_too, ahead, state = predict_and_forecast(model, series, positions)
    np.testing.assert_array_equal(predicted_too, predicted)
    assert ahead is not None and state is None
    np.testing.assert_allclose(ahead.predicted, np.full(TINY.horizon, series.values[-1]))
    # The band: quantiles of the last value's own validation residuals, around it.
    assert ahead.lower[0] < ahead.predicted[0] < ahead.upper[0]
    path = store.save_model(tmp_path, "default", "s", 1, model, pool.for_settings(strict))
    assert json.loads((path / "meta.json").read_text())["forecast"] == "persistence"
    stored = store.load_model(tmp_path, "default", "s", pool.for_settings)
    assert stored.model.persistence
    np.testing.assert_array_equal(one_step_predictions(stored.model, series, positions), predicted)


def test_the_fallback_can_be_turned_off(pool: NetworkPool) -> None:
    series = make_series(noisy_sine(600))
    settings = TINY.model_copy(update={"persistence_fallback": None, "epochs": 1})
    model = train(pool, series, settings)
    assert not model.persistence and "network_mae" not in model.metrics
