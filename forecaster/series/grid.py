"""A series' grid (interval and phase): absolute step numbers of timestamps and their times.

Fixed-length intervals (seconds to days) have centred bins: a raw point belongs to the grid time
nearest to it, so jittered timestamps (a 5-minute sensor reporting at 12:04:10, 12:08:50, …)
land on 12:05, 12:10, …. Calendar intervals (business days, months) bin by period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset, Tick

from forecaster.errors import SeriesUnusable

# Period aliases for offsets whose own alias is not a period frequency.
_PERIOD_ALIASES = {"MS": "M", "QS": "Q", "YS": "Y", "AS": "Y", "BMS": "M", "BME": "M"}


_EPOCH_DAY = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class Grid:
    """Where a series' regular points lie: every `frequency`, shifted by `phase`.

    `phase` (nanoseconds, 0 <= phase < interval) only matters for fixed-length intervals: a
    5-minute series sampled at :01, :06, … has phase 60 s. It is fixed per series (stored on
    the series row), never taken from the first point of a read.
    """

    frequency: str
    phase: int = 0

    @property
    def offset(self) -> BaseOffset:
        return parse_frequency(self.frequency)

    @property
    def tick_nanos(self) -> int | None:
        """The interval in nanoseconds for fixed-length intervals; None for calendar ones."""
        offset = self.offset
        return int(offset.nanos) if isinstance(offset, Tick) else None

    @property
    def lead(self) -> pd.Timedelta:
        """How long before its grid time a bin starts (half an interval for centred bins)."""
        nanos = self.tick_nanos
        return pd.Timedelta(0) if nanos is None else pd.Timedelta(nanos // 2, unit="ns")

    def bin_end(self, ts: pd.Timestamp) -> pd.Timestamp:
        """Where the bin of grid time `ts` ends (the next bin's start)."""
        nanos = self.tick_nanos
        if nanos is None:
            return pd.Timestamp(ts) + self.offset
        return pd.Timestamp(ts) + pd.Timedelta(nanos - nanos // 2, unit="ns")

    def origin(self) -> pd.Timestamp:
        """A grid time (the first one after the epoch): how the phase is stored."""
        return pd.Timestamp(self.phase, unit="ns", tz="UTC")

    @classmethod
    def stored(cls, frequency: str | None, origin: datetime | None) -> Grid | None:
        """The grid stored on a series row (its frequency and origin); None until both are."""
        if frequency is None or origin is None:
            return None
        return cls.from_origin(frequency, pd.Timestamp(origin))

    @classmethod
    def from_origin(cls, frequency: str, origin: pd.Timestamp | None) -> Grid:
        """The grid of a frequency through a stored grid time (None: phase 0)."""
        grid = cls(frequency)
        nanos = grid.tick_nanos
        if origin is None or nanos is None:
            return grid
        ns = pd.Timestamp(origin).as_unit("ns").value
        return cls(frequency, int(ns % nanos))


def parse_frequency(frequency: str, name: str = "series") -> BaseOffset:
    """A frequency alias as a pandas offset; SeriesUnusable when it is not one."""
    try:
        offset = pd.tseries.frequencies.to_offset(frequency)
    except (ValueError, TypeError):
        raise SeriesUnusable(f"series {name!r}: unknown frequency {frequency!r}") from None
    if offset.n <= 0:
        raise SeriesUnusable(f"series {name!r}: frequency {frequency!r} is not positive")
    return offset


def grid_steps(index: pd.DatetimeIndex, grid: Grid, name: str) -> tuple[np.ndarray, StepTimes]:
    """Absolute step numbers of `index` on the grid, and the inverse mapping."""
    offset = parse_frequency(grid.frequency, name)
    if isinstance(offset, Tick):
        nanos = int(offset.nanos)
        ns = index.as_unit("ns").asi8
        # Centred bins: the nearest grid time (floor of the shifted time).
        return (ns - grid.phase + nanos // 2) // nanos, TickTimes(nanos, grid.phase)
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
            f"series {name!r}: frequency {grid.frequency!r} is not supported for regular series"
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
