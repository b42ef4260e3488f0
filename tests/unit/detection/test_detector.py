"""Pure detection: decisions never look ahead, events group and extend correctly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.config.detection import DetectionSettings
from forecaster.detection.decide import Detector
from forecaster.detection.events import OpenEvent, group_events
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
    events = group_events(times[picks], steps[picks], scores, directions, merge_gap=2)
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
        times[picks], steps[picks], scores, directions, merge_gap=2, open_event=open_event
    )
    assert (extended[0].start_ts, extended[0].end_ts, extended[0].n_points) == (
        times[0],
        times[6],
        5,
    )
    assert extended[0].peak_score == 0.95 and extended[0].direction == "low"
    far = OpenEvent(**{**open_event.__dict__, "end_step": -10})
    assert (
        group_events(times[picks], steps[picks], scores, directions, merge_gap=2, open_event=far)[
            0
        ].start_ts
        == times[2]
    )


def test_severity_bands() -> None:
    assert severity_of(0.5) == "low"
    assert severity_of(0.95) == "medium"
    assert severity_of(0.98) == "high"
    assert severity_of(0.995) == "critical"
