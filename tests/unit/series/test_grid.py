"""The grid of real timestamps: robust interval and phase, centred bins, read-start independence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import SeriesUnusable
from forecaster.series.frequency import infer_frequency, infer_grid
from forecaster.series.grid import Grid
from forecaster.series.regular import regularize, settled
from tests.helpers.irregular import irregular_sensor, jittered_times


@pytest.mark.parametrize("seed", range(8))
def test_jittered_five_minute_data_is_five_minute_data(seed: int) -> None:
    grid = infer_grid(jittered_times(300, seed=seed))
    assert grid is not None and grid.frequency == "5min"
    offset = min(grid.phase, 300 * 10**9 - grid.phase)  # circular distance to :00
    assert offset <= 30 * 10**9


def test_exactly_regular_data_keeps_its_exact_interval_and_phase() -> None:
    index = pd.date_range("2024-01-01 00:01", periods=50, freq="5min", tz="UTC")
    assert infer_grid(index) == Grid("5min", 60 * 10**9)
    seven = pd.date_range("2024-01-01", periods=50, freq="7min", tz="UTC")
    assert infer_frequency(seven) == "7min"  # exact data is never snapped


def test_bursts_and_gaps_do_not_change_the_interval() -> None:
    grid = infer_grid(irregular_sensor().index)
    assert grid is not None and grid.frequency == "5min"


def test_calendar_intervals() -> None:
    weekdays = pd.bdate_range("2024-01-01", periods=40, tz="UTC")
    assert infer_frequency(weekdays) == "B"
    months = pd.date_range("2020-01-01", periods=24, freq="MS", tz="UTC")
    assert infer_frequency(months) == "MS"
    ends = pd.date_range("2020-01-31", periods=24, freq="ME", tz="UTC")
    assert infer_frequency(ends) == "ME"


def test_jittered_points_land_on_the_nearest_grid_time() -> None:
    times = pd.DatetimeIndex(
        ["2024-01-01 11:58", "2024-01-01 12:02", "2024-01-01 12:04", "2024-01-01 12:08"], tz="UTC"
    )
    series = regularize(pd.Series([1.0, 3.0, 5.0, 7.0], index=times), Grid("5min"), 0)
    assert list(series.index.strftime("%H:%M")) == ["12:00", "12:05", "12:10"]
    assert list(series.values) == [2.0, 5.0, 7.0]  # two readings in one bin: their mean


def test_the_aggregate_of_a_bin_is_configurable() -> None:
    times = pd.DatetimeIndex(["2024-01-01 12:00", "2024-01-01 12:01", "2024-01-01 12:02"], tz="UTC")
    raw = pd.Series([1.0, 2.0, 9.0], index=times)
    assert regularize(raw, Grid("5min"), 0, "median").values[0] == 2.0
    assert regularize(raw, Grid("5min"), 0, "last").values[0] == 9.0


def test_the_regular_series_does_not_depend_on_where_a_read_starts() -> None:
    raw = irregular_sensor().rename("s")
    full = regularize(raw, None, 3)
    for start in range(1, 400, 9):
        part = regularize(raw.iloc[start:], full.grid, 3)
        # The first bin of a part may lack the points read before it; the rest is identical.
        position = full.index.get_loc(part.index[1])
        length = min(len(part) - 1, len(full) - position)
        assert np.array_equal(
            part.values[1 : 1 + length], full.values[position : position + length]
        )
        assert np.array_equal(part.steps[1 : 1 + length], full.steps[position : position + length])


def test_a_last_bin_that_later_points_could_join_is_held_back() -> None:
    times = pd.DatetimeIndex(["2024-01-01 12:00:40", "2024-01-01 12:04:10"], tz="UTC")
    series = regularize(pd.Series([1.0, 2.0], index=times), Grid("5min"), 0)
    assert len(settled(series, times[-1])) == 1  # 12:05 could still get a point before 12:07:30
    assert len(settled(series, pd.Timestamp("2024-01-01 12:07:30", tz="UTC"))) == 2
    exact = pd.date_range("2024-01-01", periods=3, freq="5min", tz="UTC")
    aligned = regularize(pd.Series([1.0, 2.0, 3.0], index=exact), Grid("5min"), 0)
    assert len(settled(aligned, exact[-1])) == 3  # exactly regular data is never held back


def test_a_grid_is_stored_as_one_of_its_times() -> None:
    grid = Grid("5min", 61 * 10**9)
    assert Grid.from_origin("5min", grid.origin()) == grid
    assert Grid.from_origin("10min", grid.origin()) == Grid("10min", 61 * 10**9)
    assert Grid.stored("5min", None) is None


@pytest.mark.parametrize("value", [1.7e308, -1e200, 1e101])
def test_values_too_large_to_compute_with_are_a_clear_error(value: float) -> None:
    index = pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC")
    raw = pd.Series(np.ones(10), index=index, name="big")
    raw.iloc[4] = value
    with pytest.raises(SeriesUnusable, match=r"series 'big': value .* at 2024-01-01T04:00:00"):
        regularize(raw, None, 3)


@pytest.mark.parametrize("frequency", ["-5min", "0min", "7x"])
def test_a_frequency_that_is_not_a_positive_interval_is_refused(frequency: str) -> None:
    index = pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC")
    with pytest.raises(SeriesUnusable, match="frequency"):
        regularize(pd.Series(np.arange(10.0), index=index), Grid(frequency), 3)
