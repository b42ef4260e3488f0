"""A series' grid inferred from its first timestamps: robust to jitter, gaps and bursts.

Exactly regular data keeps its exact interval and phase. Jittered data (most spacings differ)
takes the median spacing, ignoring spacings under half the median (bursts of several points
in one interval), snapped to the nearest common interval within SNAP_TOLERANCE, and the phase
as the circular mean of the times within the interval, rounded to the second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.series.grid import Grid

# The grid is inferred from the first GRID_SAMPLE points only, so it is the same whichever
# later point a read starts or ends at, and is then stored on the series row.
GRID_SAMPLE = 200
# Jittered spacings snap to a common interval when within this ratio of it.
SNAP_TOLERANCE = 1.25
# Exact data: the most common spacing (or phase) covers at least this share of the points.
_EXACT_SHARE = 0.5
# A daily series with no weekend points is a business-day series (markets).
_WEEKEND_DAYS = {5, 6}
_COMMON_INTERVALS = [
    pd.Timedelta(alias)
    for alias in (
        "1s", "2s", "5s", "10s", "15s", "20s", "30s",
        "1min", "2min", "3min", "5min", "10min", "15min", "20min", "30min",
        "1h", "2h", "3h", "4h", "6h", "8h", "12h", "1D", "7D",
    )
]  # fmt: skip
_SECOND = 1_000_000_000


def infer_grid(index: pd.DatetimeIndex, frequency: str | None = None) -> Grid | None:
    """The grid of a series from its first GRID_SAMPLE timestamps (sorted, finite values):
    the configured `frequency` or an inferred one, with the inferred phase. None when there
    are too few points to tell."""
    sample = index[:GRID_SAMPLE]
    frequency = frequency or infer_frequency(sample)
    if frequency is None:
        return None
    grid = Grid(frequency)
    nanos = grid.tick_nanos
    if nanos is None or len(sample) == 0:
        return grid
    return Grid(frequency, infer_phase(sample.as_unit("ns").asi8, nanos))


def infer_frequency(index: pd.DatetimeIndex) -> str | None:
    """The series' sampling interval as a pandas offset alias; None with fewer than three
    points (nothing to infer from)."""
    if len(index) < 3:
        return None
    steps = np.diff(index.as_unit("ns").asi8)  # pandas 3 may parse to µs
    steps = steps[steps > 0]
    if len(steps) == 0:
        return None
    monthly = _monthly(index, steps)
    if monthly is not None:
        return monthly
    values, counts = np.unique(steps, return_counts=True)
    if counts.max() >= _EXACT_SHARE * len(steps):
        step = pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")
    else:
        step = _jittered_step(steps)
    if step == pd.Timedelta(days=1) and not set(index.day_of_week) & _WEEKEND_DAYS:
        return "B"
    return str(pd.tseries.frequencies.to_offset(step).freqstr)


def _jittered_step(steps: np.ndarray) -> pd.Timedelta:
    """The median spacing without bursts, snapped to a common interval when close to one."""
    provisional = float(np.median(steps))
    median = float(np.median(steps[steps >= provisional / 2]))
    nearest = min(_COMMON_INTERVALS, key=lambda c: abs(np.log(median / c.value)))
    if max(median / nearest.value, nearest.value / median) <= SNAP_TOLERANCE:
        return nearest
    unit = _SECOND if median >= _SECOND else 1000
    return pd.Timedelta(round(median / unit) * unit, unit="ns")


def _monthly(index: pd.DatetimeIndex, steps: np.ndarray) -> str | None:
    """Month starts ("MS") or month ends ("ME") for monthly data, else None."""
    days = np.median(steps) / (86_400 * _SECOND)
    if not 27 <= days <= 32:
        return None
    if bool(np.all(index.day == 1)):
        return "MS"
    if bool(np.all(index.is_month_end)):
        return "ME"
    return None


def infer_phase(ns: np.ndarray, nanos: int) -> int:
    """Where within the interval the points lie: the most common offset for exact data, else
    their circular mean rounded to the second (to the microsecond below one second)."""
    offsets = ns % nanos
    values, counts = np.unique(offsets, return_counts=True)
    if counts.max() >= _EXACT_SHARE * len(offsets):
        return int(values[np.argmax(counts)])
    angles = 2 * np.pi * offsets / nanos
    mean = float(np.arctan2(np.sin(angles).mean(), np.cos(angles).mean()))
    phase = mean / (2 * np.pi) * nanos
    unit = _SECOND if nanos >= _SECOND else 1000
    return round(phase / unit) * unit % nanos
