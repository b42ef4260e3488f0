"""Pure detection: decisions never look ahead, events group and extend correctly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.config.detection import DetectionSettings
from forecaster.detection.decide import Detector
from forecaster.detection.events import Grouping, OpenEvent, group_events
from forecaster.detection.registry import THRESHOLDS
from forecaster.detection.severity import severity_of

WINDOW = {"window": 200, "refit_every": 25, "min_history": 50}
SCORER = {"window": 200, "min_history": 50}
SETTINGS = DetectionSettings.model_validate({"scorer": SCORER, "threshold": WINDOW})


def detector_with(method: str) -> Detector:
    """SETTINGS with the threshold `method` (its window settings where it has them)."""
    fields = THRESHOLDS_BY_NAME[method].settings_type.model_fields
    threshold = {"method": method, **{k: v for k, v in WINDOW.items() if k in fields}}
    settings = DetectionSettings.model_validate({"scorer": SCORER, "threshold": threshold})
    return Detector.from_settings(settings)


THRESHOLDS_BY_NAME = {part.name: part for part in THRESHOLDS}


def synthetic(n: int = 1200, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 1, n)
    values[700:705] += 12.0  # a burst far above the forecast
    values[900] -= 15.0  # a drop far below it
    predicted = np.zeros(n)
    predicted[:30] = np.nan  # warm-up: no prediction yet
    observed = np.ones(n, dtype=bool)
    observed[400:403] = False  # filled points are never judged
    return values, predicted, observed


@pytest.mark.parametrize("method", sorted(THRESHOLDS_BY_NAME))
def test_decisions_never_look_ahead(method: str) -> None:
    detector = detector_with(method)
    values, predicted, observed = synthetic()
    steps = np.arange(len(values)) + 10_000
    full = detector.decide(values, observed, predicted, steps, 0, reference_scale=1.0)
    for cut in (650, 702, 901, 1100):
        # The decisions up to `cut` are the same when the future does not exist yet...
        part = detector.decide(
            values[:cut], observed[:cut], predicted[:cut], steps[:cut], 0, reference_scale=1.0
        )
        np.testing.assert_array_equal(part.anomalous, full.anomalous[:cut])
        np.testing.assert_array_equal(part.score, full.score[:cut])
        # ...and when only new points are decided, with history before them as context.
        start = cut - 100
        tail = detector.decide(
            values[:cut], observed[:cut], predicted[:cut], steps[:cut], start, reference_scale=1.0
        )
        np.testing.assert_array_equal(tail.anomalous, full.anomalous[start:cut])


def test_bursts_are_found_with_direction_and_filled_points_are_not() -> None:
    values, predicted, observed = synthetic()
    steps = np.arange(len(values))
    result = Detector.from_settings(SETTINGS).decide(
        values, observed, predicted, steps, 0, reference_scale=1.0
    )
    flagged = result.positions[result.anomalous]
    assert np.isin([700, 701, 702], flagged).all()
    assert 900 in flagged
    assert result.direction[700] == "high" and result.direction[900] == "low"
    assert not result.anomalous[400:403].any() and not result.anomalous[:30].any()
    assert np.nanmax(result.score) <= 1.0 and result.score[701] > 0.9
    # Pure noise elsewhere: the dynamic threshold keeps false alarms rare.
    quiet = np.setdiff1d(flagged, np.r_[700:760, 900:960])
    assert len(quiet) <= 0.01 * len(values)


def test_group_events_merges_within_gap_and_extends_open_event() -> None:
    times = pd.date_range("2024-01-01", periods=20, freq="h", tz="UTC")
    steps = np.arange(20)
    picks = np.array([2, 3, 6, 15])
    scores = np.array([0.5, 0.9, 0.6, 0.7])
    directions = np.array(["high", "high", "low", "low"])
    events = group_events(
        times[picks], steps[picks], scores, directions, grouping=Grouping(merge_gap=2)
    )
    assert [(e.start_ts, e.end_ts, e.n_points) for e in events] == [
        (times[2], times[6], 3),
        (times[15], times[15], 1),
    ]
    assert events[0].peak_ts == times[3] and events[0].peak_score == 0.9
    assert events[0].direction == "high"

    open_event = OpenEvent(
        start_ts=times[0],
        end_ts=times[1],
        end_step=1,
        peak_ts=times[0],
        peak_score=0.95,
        n_points=2,
        direction="low",
    )
    extended = group_events(
        times[picks],
        steps[picks],
        scores,
        directions,
        grouping=Grouping(merge_gap=2),
        open_event=open_event,
    )
    assert (extended[0].start_ts, extended[0].end_ts, extended[0].n_points) == (
        times[0],
        times[6],
        5,
    )
    assert extended[0].peak_score == 0.95 and extended[0].direction == "low"
    far = OpenEvent(**{**open_event.__dict__, "end_step": -10})
    assert (
        group_events(
            times[picks],
            steps[picks],
            scores,
            directions,
            grouping=Grouping(merge_gap=2),
            open_event=far,
        )[0].start_ts
        == times[2]
    )


def test_severity_bands() -> None:
    assert severity_of(0.5) == "low"
    assert severity_of(0.95) == "medium"
    assert severity_of(0.98) == "high"
    assert severity_of(0.995) == "critical"


def test_no_new_event_starts_within_the_refractory_period_of_one() -> None:
    steps = np.array([0, 50, 150, 250, 258])
    times = pd.date_range("2024-01-01", periods=300, freq="h", tz="UTC")[steps]
    scores = np.array([0.95, 0.99, 0.96, 0.97, 0.95])
    directions = np.array(["high"] * 5)
    grouping = Grouping(merge_gap=10, refractory=200)
    events = group_events(times, steps, scores, directions, grouping=grouping)
    # 50 and 150 are within 200 steps of the start at 0; 250 starts anew, 258 joins by gap.
    assert [(e.start_ts, e.end_ts, e.n_points) for e in events] == [
        (times[0], times[2], 3),
        (times[3], times[4], 2),
    ]
    assert events[0].peak_ts == times[1]
    # Without the refractory period every point more than merge_gap apart is an event.
    assert len(group_events(times, steps, scores, directions, grouping=Grouping(10))) == 4


def test_the_refractory_period_of_a_stored_event_counts_from_its_start() -> None:
    times = pd.date_range("2024-01-01", periods=400, freq="h", tz="UTC")
    stored = OpenEvent(
        start_ts=times[100],
        end_ts=times[101],
        end_step=101,
        start_step=100,
        peak_ts=times[100],
        peak_score=0.99,
        n_points=2,
        direction="high",
    )
    grouping = Grouping(merge_gap=5, refractory=150)
    later = np.array([240, 260])
    drafts = group_events(
        times[later],
        later,
        np.array([0.95, 0.96]),
        np.array(["low", "low"]),
        grouping=grouping,
        open_event=stored,
    )
    # 240 is within 150 steps of the stored start (100): it extends that event; 260 is not,
    # and it is more than merge_gap after 240: a new event.
    assert [(d.start_ts, d.end_ts, d.n_points) for d in drafts] == [
        (times[100], times[240], 3),
        (times[260], times[260], 1),
    ]


def test_the_smoothed_tail_after_a_spike_flags_no_normal_point() -> None:
    rng = np.random.default_rng(8)
    n = 600
    values = 10 + rng.normal(0, 0.2, n)
    predicted = values + rng.normal(0, 0.2, n)  # misses by noise only...
    predicted[:20] = np.nan
    values[500] += 8.0  # ... but for one spike
    settings = DetectionSettings.model_validate(
        {"scorer": SCORER, "threshold": WINDOW, "range": {"enabled": False}}
    )
    result = Detector.from_settings(settings).decide(
        values, np.ones(n, bool), predicted, np.arange(n), 300, reference_scale=0.3
    )
    # The smoothed errors after the spike stay above the threshold for a while (span 20),
    # but those points' own errors are ordinary: of the spike and its tail, only the spike.
    flagged = result.positions[result.anomalous]
    assert flagged[(flagged >= 500) & (flagged <= 560)].tolist() == [500]
    assert result.rule[200] == "forecast" and result.signals[200] == "forecast"


def test_signals_list_every_rule_that_flagged_a_point() -> None:
    rng = np.random.default_rng(9)
    n = 600
    values = 10 + rng.normal(0, 0.2, n)
    predicted = values + rng.normal(0, 0.2, n)
    values[450] += 50.0  # far outside the range too
    result = Detector.from_settings(SETTINGS).decide(
        values, np.ones(n, bool), predicted, np.arange(n), 300, reference_scale=0.3
    )
    at = 450 - 300
    assert result.anomalous[at] and result.signals[at] == "forecast,range"
    assert set(result.signals[result.anomalous]) <= {"forecast", "forecast,range"}
    assert result.rule[at] in {"forecast", "range"}


def test_an_error_the_model_makes_routinely_is_no_anomaly_after_a_quiet_spell() -> None:
    rng = np.random.default_rng(10)
    n = 600
    predicted = np.zeros(n)
    values = rng.normal(0, 0.01, n)  # a quiet spell: errors far below the model's RMSE (1)
    values[450] += 0.8  # unusual for the spell, routine for the model
    values[520] += 5.0  # unusual for both
    no_range = {"scorer": SCORER, "threshold": WINDOW, "range": {"enabled": False}}

    def flagged(min_error: float) -> list[int]:
        settings = DetectionSettings.model_validate({**no_range, "min_error": min_error})
        result = Detector.from_settings(settings).decide(
            values, np.ones(n, bool), predicted, np.arange(n), 300, reference_scale=1.0
        )
        return [int(p) for p in result.positions[result.anomalous]]

    assert {450, 520} <= set(flagged(0.0))
    assert flagged(2.0) == [520]
    assert 450 in flagged(0.7) and 450 not in flagged(0.9)  # 0.8 RMSE: the floor decides
