"""When a series can be trained on: usable points across gaps, flat starts, constant spans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.config.pipeline import PipelineSettings
from forecaster.detection.flat_start import flat_departures
from forecaster.errors import SeriesTooShort, SeriesUnusable
from forecaster.model.sequences import (
    first_trainable,
    leading_flat_run,
    require_trainable,
    usable_counts,
)
from forecaster.series.regular import RegularSeries, regularize
from pipelines.detect.plan import first_cutoff


def gappy(run: int, runs: int, gap: int = 10) -> RegularSeries:
    """`runs` runs of `run` hourly points, separated by long gaps of `gap` missing hours."""
    index = pd.date_range("2024-01-01", periods=runs * (run + gap), freq="h", tz="UTC")
    keep = (np.arange(len(index)) % (run + gap)) < run
    values = np.sin(np.arange(len(index)) / 5.0)
    return regularize(pd.Series(values[keep], index=index[keep], name="g"), "h", 3)


def test_usable_points_count_every_run_long_enough_to_hold_a_sequence() -> None:
    series = gappy(run=30, runs=4)
    assert series.segment_starts.sum() == 4
    counts = usable_counts(series.segment_ids, min_run=25)
    assert counts[-1] == 120
    assert counts[24] == 25 and counts[23] == 0  # a run counts once it is long enough
    assert usable_counts(gappy(run=20, runs=4).segment_ids, min_run=25)[-1] == 0


def test_a_series_whose_runs_are_all_shorter_than_the_model_trains_across_them() -> None:
    series = gappy(run=30, runs=4)
    require_trainable(series, 100, "g", min_run=25)  # no run holds 100 points; all do
    with pytest.raises(SeriesTooShort, match=r"90 usable points .* needs at least 100"):
        require_trainable(gappy(run=30, runs=3), 100, "g", min_run=25)


def flat_then_moving(flat: int, n: int, level: float = -1.0) -> RegularSeries:
    index = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    values = np.full(n, level)
    values[flat:] = level + np.sin(np.arange(n - flat) / 4.0) + 0.5
    return regularize(pd.Series(values, index=index, name="f"), "h", 3)


def test_a_constant_span_is_refused_and_a_later_varied_one_is_not() -> None:
    series = flat_then_moving(flat=200, n=400)
    with pytest.raises(SeriesUnusable, match=r"constant \(-1\) over its training span"):
        require_trainable(series.head(150), 50, "f", min_run=10)
    position = first_trainable(series, 149, min_points=50, min_run=10)
    assert position is not None and 200 < position < 215


def test_the_first_cutoff_comes_after_the_flat_start() -> None:
    pipeline = PipelineSettings.model_validate(
        {
            "name": "p",
            "model": {"window": 8, "horizon": 2, "chunk": 8},
            "training": {"initial_points": 50},
        }
    )
    series = flat_then_moving(flat=120, n=300)
    assert leading_flat_run(series) == 120
    cutoff, note = first_cutoff(series, pipeline)
    assert cutoff == series.steps[120 + 49] and note is None
    cutoff, note = first_cutoff(series.head(100), pipeline)
    assert cutoff > series.steps[99] and note is not None and "constant at -1" in note
    cutoff, note = first_cutoff(series.head(150), pipeline)
    assert note is not None and "30 of 50 points needed after its flat start" in note


def test_the_first_departure_from_a_flat_start_is_the_anomaly() -> None:
    series = flat_then_moving(flat=120, n=300)
    positions = np.arange(100, 200)
    decisions = flat_departures(series.values, series.observed, positions, min_run=20)
    assert decisions is not None
    assert list(positions[decisions.anomalous]) == [120]
    assert decisions.score[decisions.anomalous][0] == 1.0
    assert decisions.predicted[0] == -1.0 and decisions.direction[20] == "high"
    short_flat = flat_then_moving(flat=5, n=100)
    assert (
        flat_departures(short_flat.values, short_flat.observed, positions[:50], min_run=20) is None
    )
