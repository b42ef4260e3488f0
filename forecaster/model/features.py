"""The network's input columns: scaled value, seasonal lag and calendar encodings."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from forecaster.model.scaling import Scaler
from forecaster.series.regular import RegularSeries


def calendar_features(index: pd.DatetimeIndex, kinds: Sequence[str]) -> np.ndarray:
    """Cyclic (sin, cos) encodings of hour of day and day of week, shape (n, 2 * len(kinds))."""
    columns: list[np.ndarray] = []
    for kind in kinds:
        if kind == "hour_of_day":
            fraction = (index.hour + index.minute / 60) / 24
        elif kind == "day_of_week":
            fraction = (index.day_of_week + index.hour / 24) / 7
        else:
            raise ValueError(f"unknown calendar feature {kind!r}")
        radians = 2 * np.pi * np.asarray(fraction, dtype=float)
        columns += [np.sin(radians), np.cos(radians)]
    if not columns:
        return np.zeros((len(index), 0))
    return np.stack(columns, axis=1)


# Steps per day (or per week for daily data) that `seasonality: auto` accepts as a season.
_AUTO_SEASON_RANGE = (2, 1440)


_WEEKLY_SEASONS = {"D": 7, "B": 5}


@lru_cache(maxsize=256)
def seasonal_period(seasonality: int | str, frequency: str) -> int | None:
    """The season length in steps for a `seasonality` setting and a series frequency."""
    if isinstance(seasonality, int):
        return seasonality
    if seasonality == "none":
        return None
    offset = pd.tseries.frequencies.to_offset(frequency)
    name = offset.rule_code if offset.n == 1 else None
    if name in _WEEKLY_SEASONS:
        return _WEEKLY_SEASONS[name]
    if not isinstance(offset, pd.offsets.Tick):  # calendar offsets (weeks, months): no season
        return None
    step = pd.Timedelta(offset)
    day = pd.Timedelta(days=1)
    if step >= day or day % step != pd.Timedelta(0):
        return None
    per_day = int(day // step)
    low, high = _AUTO_SEASON_RANGE
    return per_day if low <= per_day <= high else None


def seasonal_features(
    series: RegularSeries,
    scaled: np.ndarray,
    period: int | None,
    usable: np.ndarray | None = None,
) -> np.ndarray:
    """(n, 2): at position p, the scaled value one season before the next step (steps[p] + 1 -
    period) and 1, or (0, 0) where that point is not in `series`, is not `usable` (when
    given), or there is no season."""
    n = len(series)
    features = np.zeros((n, 2))
    if period is None or n == 0:
        return features
    wanted = series.steps + 1 - period
    where = np.minimum(np.searchsorted(series.steps, wanted), n - 1)
    found = series.steps[where] == wanted
    if usable is not None:
        found &= usable[where]
    features[found, 0] = scaled[where[found]]
    features[found, 1] = 1.0
    return features


def model_inputs(
    series: RegularSeries, scaler: Scaler, calendar: Sequence[str], period: int | None
) -> np.ndarray:
    """The network's input matrix (n, 3 + calendar columns), float32: the scaled value, its
    seasonal lag and the lag's presence flag, then the calendar encodings.

    Extreme values stay bounded inputs: scaled values are clipped to the scaler's bounds, and
    a point beyond them is a missing seasonal lag (flag 0), as after a gap, so a glitch does
    not reappear as a forecast one season later. Training and the numpy forward pass both
    read this matrix, so they see identical inputs."""
    raw = scaler.transform(series.values)
    usable = (raw >= scaler.low) & (raw <= scaler.high)
    scaled = np.clip(raw, scaler.low, scaler.high)
    features = calendar_features(series.index, calendar)
    seasonal = seasonal_features(series, scaled, period, usable)
    return np.concatenate([scaled[:, None], seasonal, features], axis=1).astype(np.float32)


def n_features(calendar: Sequence[str]) -> int:
    """Input width for a calendar configuration (the seasonal columns are always present)."""
    return 3 + 2 * len(calendar)
