"""A frequency's grid: absolute step numbers of timestamps and the times of step numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset, Tick

from forecaster.errors import SeriesUnusable

# Period aliases for offsets whose own alias is not a period frequency.
_PERIOD_ALIASES = {"MS": "M", "QS": "Q", "YS": "Y", "AS": "Y", "BMS": "M", "BME": "M"}


_EPOCH_DAY = np.datetime64("1970-01-01", "D")


def grid_steps(index: pd.DatetimeIndex, frequency: str, name: str) -> tuple[np.ndarray, StepTimes]:
    """Absolute step numbers of `index` on the frequency's grid, and the inverse mapping."""
    try:
        offset = pd.tseries.frequencies.to_offset(frequency)
    except ValueError:
        raise SeriesUnusable(f"series {name!r}: unknown frequency {frequency!r}") from None
    if isinstance(offset, Tick):
        nanos = int(offset.nanos)
        ns = index.as_unit("ns").asi8
        # The grid's phase comes from the data (e.g. points at :01, :06, … for 5min).
        phase = int(ns[0] % nanos)
        return (ns - phase) // nanos, TickTimes(nanos, phase)
    if offset.freqstr == "B":
        # Business days counted with numpy (pandas deprecates business-day periods).
        days = index.tz_convert(None).normalize().to_numpy().astype("datetime64[D]")
        rolled = np.busday_offset(days, 0, roll="backward")
        return np.busday_count(_EPOCH_DAY, rolled).astype(np.int64), BusinessDayTimes()
    period_freq = _period_alias(offset)
    try:
        periods = index.tz_convert(None).to_period(period_freq)
    except (ValueError, TypeError):
        raise SeriesUnusable(
            f"series {name!r}: frequency {frequency!r} is not supported for regular series"
        ) from None
    return periods.asi8.astype(np.int64), PeriodTimes(period_freq)


def _period_alias(offset: BaseOffset) -> str:
    alias = offset.freqstr
    return _PERIOD_ALIASES.get(alias, alias)


class StepTimes:
    def __call__(self, steps: np.ndarray) -> pd.DatetimeIndex:
        raise NotImplementedError


class TickTimes(StepTimes):
    def __init__(self, nanos: int, phase: int) -> None:
        self.nanos, self.phase = nanos, phase

    def __call__(self, steps: np.ndarray) -> pd.DatetimeIndex:
        # A view of the nanosecond counts: ~30x faster than parsing them with to_datetime.
        nanos = np.asarray(steps * self.nanos + self.phase, dtype=np.int64)
        return pd.DatetimeIndex(nanos.view("datetime64[ns]"), name="ts").tz_localize("UTC")


class BusinessDayTimes(StepTimes):
    def __call__(self, steps: np.ndarray) -> pd.DatetimeIndex:
        days = np.busday_offset(_EPOCH_DAY, steps, roll="forward")
        return pd.DatetimeIndex(pd.to_datetime(days).tz_localize("UTC"), name="ts")


class PeriodTimes(StepTimes):
    def __init__(self, freq: str) -> None:
        self.freq = freq

    def __call__(self, steps: np.ndarray) -> pd.DatetimeIndex:
        periods = pd.PeriodIndex.from_ordinals(steps, freq=self.freq)  # type: ignore[attr-defined]
        return pd.DatetimeIndex(periods.to_timestamp().tz_localize("UTC"), name="ts")
