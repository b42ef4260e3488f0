"""Regular series: raw points on their grid, short gaps filled, long gaps splitting segments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.errors import SeriesTooShort, SeriesUnusable
from forecaster.series.frequency import infer_grid
from forecaster.series.grid import Grid, grid_steps

# Larger magnitudes overflow the float arithmetic of scaling and training (squares, sums).
MAX_MAGNITUDE = 1e100
# How several raw points in one grid bin become its value.
AGGREGATES = ("mean", "median", "first", "last", "min", "max", "sum")


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
    phase: int = 0  # the grid's phase (see Grid)

    @property
    def grid(self) -> Grid:
        return Grid(self.frequency, self.phase)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def segment_ids(self) -> np.ndarray:
        """Segment number of every point (0, 1, …)."""
        return np.cumsum(self.segment_starts) - 1

    def head(self, stop: int) -> RegularSeries:
        """The first `stop` points."""
        return self.slice(0, stop)

    def slice(self, start: int, stop: int | None = None) -> RegularSeries:
        """Points start..stop-1 (a slice starting mid-segment starts a segment there)."""
        part = slice(start, stop)
        starts = self.segment_starts[part].copy()
        if len(starts):
            starts[0] = True
        return RegularSeries(
            index=self.index[part],
            values=self.values[part],
            observed=self.observed[part],
            steps=self.steps[part],
            segment_starts=starts,
            frequency=self.frequency,
            phase=self.phase,
        )


def regularize(
    raw: pd.Series, grid: Grid | str | None, max_gap_fill: int, aggregate: str = "mean"
) -> RegularSeries:
    """Align raw points to the series' grid, aggregate points sharing a bin, fill short gaps.

    `raw` has a UTC DatetimeIndex; NaN values are treated as missing. `grid` is the series'
    stored grid; a frequency alone or None infers the rest from the first points (infer_grid).
    Raises SeriesUnusable when there is nothing to model, SeriesTooShort when the frequency
    cannot be inferred.
    """
    name = str(raw.name) if raw.name is not None else "series"
    raw_values, index = _finite_sorted(raw, name)
    if not isinstance(grid, Grid):
        inferred = infer_grid(index, grid)
        if inferred is None:
            raise SeriesTooShort(
                f"series {name!r} has {len(index)} point(s): too few to tell its frequency"
            )
        grid = inferred
    steps, to_times = grid_steps(index, grid, name)
    obs_steps, obs_values = _binned(steps, raw_values, aggregate)
    all_steps, values, observed = _filled(obs_steps, obs_values, max_gap_fill)
    starts = np.ones(len(all_steps), dtype=bool)
    starts[1:] = np.diff(all_steps) > 1
    return RegularSeries(
        index=to_times(all_steps),
        values=values,
        observed=observed,
        steps=all_steps,
        segment_starts=starts,
        frequency=grid.frequency,
        phase=grid.phase,
    )


def _finite_sorted(raw: pd.Series, name: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """The finite values and their times in time order; SeriesUnusable when none is left or a
    value is too large for float arithmetic."""
    # numpy rather than pandas selections: a daemon cycle regularizes thousands of short spans.
    raw_values = raw.to_numpy(dtype=float)
    index = pd.DatetimeIndex(raw.index)
    keep = np.isfinite(raw_values) & index.notna()
    if not keep.all():
        raw_values, index = raw_values[keep], index[keep]
    if len(index) == 0:
        raise SeriesUnusable(f"series {name!r} has no values")
    huge = np.abs(raw_values) > MAX_MAGNITUDE
    if huge.any():
        first = int(np.argmax(huge))
        raise SeriesUnusable(
            f"series {name!r}: value {raw_values[first]:.3g} at {index[first].isoformat()} is "
            f"beyond ±{MAX_MAGNITUDE:.0e}, too large to compute with (fix or delete it)"
        )
    if not index.is_monotonic_increasing:
        order = np.argsort(index.asi8, kind="stable")
        raw_values, index = raw_values[order], index[order]
    return raw_values, index


def _binned(steps: np.ndarray, values: np.ndarray, aggregate: str) -> tuple[np.ndarray, np.ndarray]:
    """One value per occupied grid step: several raw points in one bin are aggregated."""
    if len(steps) < 2 or bool(np.all(steps[1:] > steps[:-1])):
        return steps.astype(np.int64), values
    grouped = pd.Series(values).groupby(steps).agg(aggregate)
    return grouped.index.to_numpy(dtype=np.int64), grouped.to_numpy(dtype=float)


def _filled(
    obs_steps: np.ndarray, obs_values: np.ndarray, max_gap_fill: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, values and observed flags with gaps of up to `max_gap_fill` steps interpolated."""
    gaps = np.diff(obs_steps) - 1
    fillable = (gaps > 0) & (gaps <= max_gap_fill)
    if not fillable.any():
        return obs_steps, obs_values.copy(), np.ones(len(obs_steps), dtype=bool)
    pieces = [obs_steps]
    for i in np.flatnonzero(fillable):
        pieces.append(np.arange(obs_steps[i] + 1, obs_steps[i + 1], dtype=np.int64))
    all_steps = np.sort(np.concatenate(pieces))
    observed = np.isin(all_steps, obs_steps, assume_unique=True)
    values = np.interp(all_steps, obs_steps, obs_values)
    values[observed] = obs_values
    return all_steps, values, observed


def settled(series: RegularSeries, newest: pd.Timestamp) -> RegularSeries:
    """`series` without a last point whose bin a later raw point could still join: a bin is
    settled once a point at or after its end exists, or when the newest point sits exactly on
    its grid time (exactly regular data is never held back)."""
    if len(series) == 0:
        return series
    last = series.index[-1]
    if newest == last:
        return series
    bin_end = series.grid.bin_end(last)
    return series if newest >= bin_end else series.head(len(series) - 1)


def future_index(series: RegularSeries, count: int) -> pd.DatetimeIndex:
    """The next `count` grid times after the series' last point."""
    last = series.index[-1]
    offset = pd.tseries.frequencies.to_offset(series.frequency)
    return pd.DatetimeIndex(
        pd.date_range(last, periods=count + 1, freq=offset)[1:], name="ts"
    ).tz_convert("UTC")
