"""Regular series: raw points on their grid, short gaps filled, long gaps splitting segments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.errors import SeriesTooShort, SeriesUnusable
from forecaster.series.frequency import infer_frequency
from forecaster.series.grid import grid_steps


@dataclass(frozen=True)
class RegularSeries:
    """A series on a regular grid: short gaps filled, long gaps splitting it into segments.

    Positions skipped by a long gap are absent (not NaN), so arrays stay dense; `steps` holds
    each point's absolute grid number, which fixes where scoring chunks start independently of
    how much history was read.
    """

    index: pd.DatetimeIndex  # grid times, UTC, increasing
    values: np.ndarray  # float64, finite
    observed: np.ndarray  # bool: a real observation (False: filled in a short gap)
    steps: np.ndarray  # int64 absolute grid step numbers
    segment_starts: np.ndarray  # bool: first point of the series or first after a long gap
    frequency: str

    def __len__(self) -> int:
        return len(self.values)

    @property
    def segment_ids(self) -> np.ndarray:
        """Segment number of every point (0, 1, …)."""
        return np.cumsum(self.segment_starts) - 1

    def head(self, stop: int) -> RegularSeries:
        """The first `stop` points."""
        return RegularSeries(
            index=self.index[:stop],
            values=self.values[:stop],
            observed=self.observed[:stop],
            steps=self.steps[:stop],
            segment_starts=self.segment_starts[:stop],
            frequency=self.frequency,
        )

    def longest_segment(self) -> int:
        """Points in the longest run without a long gap."""
        if len(self) == 0:
            return 0
        return int(np.bincount(self.segment_ids).max())


def regularize(raw: pd.Series, frequency: str | None, max_gap_fill: int) -> RegularSeries:
    """Align raw points to the series' grid, average points sharing a step, fill short gaps.

    `raw` has a UTC DatetimeIndex; NaN values are treated as missing. Raises SeriesUnusable
    when there is nothing to model, SeriesTooShort when the frequency cannot be inferred.
    """
    name = raw.name if raw.name is not None else "series"
    # numpy rather than pandas selections: a daemon cycle regularizes thousands of short spans.
    raw_values = raw.to_numpy(dtype=float)
    index = pd.DatetimeIndex(raw.index)
    keep = np.isfinite(raw_values) & index.notna()
    if not keep.all():
        raw_values, index = raw_values[keep], index[keep]
    if len(index) == 0:
        raise SeriesUnusable(f"series {name!r} has no values")
    if not index.is_monotonic_increasing:
        order = np.argsort(index.asi8, kind="stable")
        raw_values, index = raw_values[order], index[order]
    frequency = frequency or infer_frequency(index)
    if frequency is None:
        raise SeriesTooShort(
            f"series {name!r} has {len(index)} point(s): too few to tell its frequency"
        )
    steps, to_times = grid_steps(index, frequency, str(name))
    if len(steps) < 2 or bool(np.all(steps[1:] > steps[:-1])):
        obs_steps, obs_values = steps.astype(np.int64), raw_values
    else:
        # Several raw points in one step (jittered or duplicated times) become their mean.
        grouped = pd.Series(raw_values).groupby(steps).mean()
        obs_steps = grouped.index.to_numpy(dtype=np.int64)
        obs_values = grouped.to_numpy(dtype=float)

    gaps = np.diff(obs_steps) - 1
    fillable = (gaps > 0) & (gaps <= max_gap_fill)
    if fillable.any():
        pieces = [obs_steps]
        for i in np.flatnonzero(fillable):
            pieces.append(np.arange(obs_steps[i] + 1, obs_steps[i + 1], dtype=np.int64))
        all_steps = np.sort(np.concatenate(pieces))
        observed = np.isin(all_steps, obs_steps, assume_unique=True)
        values = np.interp(all_steps, obs_steps, obs_values)
        values[observed] = obs_values
    else:
        all_steps, observed = obs_steps, np.ones(len(obs_steps), dtype=bool)
        values = obs_values.copy()
    starts = np.ones(len(all_steps), dtype=bool)
    starts[1:] = np.diff(all_steps) > 1
    return RegularSeries(
        index=to_times(all_steps),
        values=values,
        observed=observed,
        steps=all_steps,
        segment_starts=starts,
        frequency=frequency,
    )


def future_index(series: RegularSeries, count: int) -> pd.DatetimeIndex:
    """The next `count` grid times after the series' last point."""
    last = series.index[-1]
    offset = pd.tseries.frequencies.to_offset(series.frequency)
    return pd.DatetimeIndex(
        pd.date_range(last, periods=count + 1, freq=offset)[1:], name="ts"
    ).tz_convert("UTC")
