"""Extreme values with a real tiny (seeded) Keras model: a spike is one event with no echo a
season later, it is found before the threshold has history, and nothing overflows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from forecaster.config.detection import DetectionSettings
from forecaster.config.model import ModelSettings
from forecaster.detection.decide import Decisions, Detector
from forecaster.detection.events import Grouping, group_events
from forecaster.model.features import model_inputs, seasonal_period
from forecaster.model.forward import RecurrentForward
from forecaster.model.network import NetworkPool
from forecaster.model.predict import TrainedModel, one_step_predictions
from forecaster.model.train import train_model
from forecaster.series.regular import RegularSeries
from tests.helpers.regular import PERIOD, daily_cycle, hourly

TINY = ModelSettings(
    units=12, window=24, horizon=4, epochs=20, batch_size=32, max_train_samples=384, patience=5
)
DETECTION = DetectionSettings.model_validate(
    {
        "scorer": {"window": 200, "min_history": 50},
        "threshold": {"window": 200, "refit_every": 25, "min_history": 50},
    }
)
TRAIN_END = 1000
GLITCHES = (400, 1010, 1600)  # in training, before the threshold has history, later


@pytest.fixture(scope="module")
def pool() -> NetworkPool:
    return NetworkPool()


def scored(
    pool: NetworkPool, glitch: float
) -> tuple[TrainedModel, RegularSeries, Decisions, list[warnings.WarningMessage]]:
    """Train on the first TRAIN_END points of a daily cycle with glitches, score the rest and
    decide it, recording every warning raised on the way."""
    values = daily_cycle(2200)
    values[list(GLITCHES)] = glitch
    series = hourly(values, 200_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = train_model(
            series.head(TRAIN_END), TINY, pool.for_settings(TINY), seed=3, name="glitchy"
        )
        predicted = np.full(len(series), np.nan)
        new = np.arange(TRAIN_END, len(series))
        predicted[new] = one_step_predictions(model, series, new)
        decisions = Detector.from_settings(DETECTION).decide(
            series.values,
            series.observed,
            predicted,
            series.steps,
            TRAIN_END,
            reference_scale=model.metrics["rmse"],
        )
    return model, series, decisions, list(caught)


def event_spans(series: RegularSeries, decisions: Decisions) -> list[tuple[int, int]]:
    picks = decisions.positions[decisions.anomalous]
    drafts = group_events(
        series.index[picks],
        series.steps[picks],
        decisions.score[decisions.anomalous],
        decisions.direction[decisions.anomalous],
        grouping=Grouping(merge_gap=DETECTION.merge_gap, refractory=DETECTION.refractory),
    )
    locate = series.index.get_loc
    return [(locate(d.start_ts), locate(d.end_ts)) for d in drafts]


@pytest.mark.parametrize("glitch", [1e12, 1e300])
def test_a_glitch_is_one_event_found_at_once_with_no_echo_a_season_later(
    pool: NetworkPool, glitch: float
) -> None:
    model, series, decisions, caught = scored(pool, glitch)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    # The glitch in the training span neither dominated the loss nor the metrics.
    assert model.metrics["mae"] < 0.5 and model.metrics["rmse"] < 1.0
    assert np.isfinite(decisions.score[np.isfinite(decisions.residual)]).any()
    spans = event_spans(series, decisions)
    for at in GLITCHES[1:]:
        (span,) = [s for s in spans if s[0] <= at <= s[1]]
        assert span[0] == at and span[1] <= at + DETECTION.merge_gap  # one short event
        echo = at + PERIOD - TRAIN_END  # the day after: the seasonal lag carries the glitch
        assert not decisions.anomalous[echo - 2 : echo + 3].any()
    # The first one comes before the threshold or the scorer have any history: the extreme
    # rule finds it (and the range rule: far outside every earlier reading), with a score
    # that passes the forecast rule's cut.
    first = GLITCHES[1] - TRAIN_END
    assert decisions.signals[first].split(",") == ["extreme", "range"]
    assert decisions.score[first] >= DETECTION.min_score


def test_numpy_and_keras_see_the_same_clipped_inputs(pool: NetworkPool) -> None:
    values = daily_cycle(600)
    values[[100, 350]] = [1e12, -1e300]
    series = hourly(values, 200_000)
    model = train_model(series, TINY, pool.for_settings(TINY), seed=5, name="glitchy")
    inputs = model_inputs(
        series, model.scaler, TINY.calendar, seasonal_period(TINY.seasonality, "h")
    )
    assert np.isfinite(inputs).all() and np.abs(inputs[:, :2]).max() <= 50
    network = pool.for_settings(TINY)
    network.weights = model.weights
    windows = np.stack([inputs[p - 40 : p] for p in (120, 130, 360, 380)])
    np.testing.assert_allclose(
        RecurrentForward(TINY, model.weights)(windows),
        network.forward(windows),
        rtol=1e-4,
        atol=1e-5,
    )
