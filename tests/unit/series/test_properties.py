"""Property tests over random irregular timestamps and values: regularize never crashes with
anything but a clear error, reads starting at any bin agree, and settled bins never change."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecaster.errors import ForecasterError
from forecaster.model.sequences import first_trainable, leading_flat_run, require_trainable
from forecaster.series.frequency import infer_grid
from forecaster.series.grid import Grid
from forecaster.series.regular import regularize, settled

T0 = pd.Timestamp("2024-01-01", tz="UTC").value
SECOND = 10**9

values_strategy = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([0.0, 1.0, -1.0]),
)


@st.composite
def irregular_points(draw: st.DrawFn, *, exact: bool = True) -> pd.Series:
    """Points near a 5-minute grid: jittered, with duplicates, bursts and gaps, any order."""
    n = draw(st.integers(min_value=0, max_value=120))
    slots = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    jitter = draw(st.lists(st.integers(-140, 140), min_size=n, max_size=n))
    ns = [T0 + (slot * 300 + j) * SECOND for slot, j in zip(slots, jitter, strict=True)]
    if not exact:  # never exactly on a grid time (the case `settled` lets through)
        ns = [
            t + 1 + (i % 7) * 1000 if (t - T0) % (300 * SECOND) == 0 else t
            for i, t in enumerate(ns)
        ]
    values = draw(st.lists(values_strategy, min_size=n, max_size=n))
    index = pd.DatetimeIndex(np.array(ns, dtype="datetime64[ns]")).tz_localize("UTC")
    return pd.Series(values, index=index, name="p", dtype=float)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(irregular_points())
def test_regularize_gives_a_regular_series_or_a_clear_error(raw: pd.Series) -> None:
    try:
        series = regularize(raw, None, 3)
    except ForecasterError as exc:
        assert str(exc).startswith("series 'p'")
        return
    assert len(series) > 0 and bool(np.all(np.diff(series.steps) > 0))
    assert bool(np.all(np.isfinite(series.values)))
    assert int(series.observed.sum()) <= int(np.isfinite(raw.to_numpy()).sum())
    assert bool(series.segment_starts[0])
    flat = leading_flat_run(series)
    assert 0 <= flat <= len(series)
    position = first_trainable(series, 0, min_points=20, min_run=8)
    assert position is None or 0 <= position < len(series)
    if position is not None:  # the prefix test agrees with the test of that span itself
        require_trainable(series.head(position + 1), 20, "p", min_run=8)


def _finite(raw: pd.Series) -> pd.Series:
    kept = raw[np.isfinite(raw.to_numpy()) & (np.abs(raw.to_numpy()) < 1e100)]
    return kept.sort_index(kind="stable")


@settings(max_examples=200, deadline=None)
@given(irregular_points(), st.integers(0, 400))
def test_a_read_starting_at_any_bin_gives_the_same_points_from_there(
    raw: pd.Series, first_slot: int
) -> None:
    raw = _finite(raw)
    grid = infer_grid(pd.DatetimeIndex(raw.index))
    if grid is None:
        return
    whole = regularize(raw, grid, 3)
    # Where the planner starts a read: the start of a bin (of a grid time of the series).
    start = whole.index[first_slot % len(whole)] - grid.lead
    part_raw = raw[raw.index >= start]
    if part_raw.empty:
        return
    part = regularize(part_raw, grid, 3)
    # Gap filling may differ at the part's first point only (the point before it is unread).
    keep = whole.index >= part.index[0]
    observed = whole.observed[keep]
    assert np.array_equal(whole.index[keep][observed], part.index[part.observed])
    assert np.array_equal(whole.values[keep][observed], part.values[part.observed])


def _off_grid(raw: pd.Series, grid: Grid) -> pd.Series:
    """`raw` with every point exactly on a grid time moved 1 µs later: `settled` trusts a
    point exactly on the grid to close its bin (exactly regular data is never held back), and
    the grid inferred from jittered points may pass exactly through some of them."""
    nanos = grid.tick_nanos
    if nanos is None:
        return raw
    ns = pd.DatetimeIndex(raw.index).as_unit("ns").asi8
    on_grid = (ns - grid.phase) % nanos == 0
    moved = np.where(on_grid, ns + 1000, ns)
    index = pd.DatetimeIndex(moved.view("datetime64[ns]")).tz_localize("UTC")
    return pd.Series(raw.to_numpy(), index=index, name=raw.name)


@settings(max_examples=200, deadline=None)
@given(irregular_points(exact=False), st.lists(st.integers(1, 119), max_size=6))
def test_settled_bins_never_change_as_more_points_arrive(raw: pd.Series, cuts: list[int]) -> None:
    raw = _finite(raw)
    if len(raw) < 3:
        return
    grid = infer_grid(pd.DatetimeIndex(raw.index)) or Grid("5min")
    raw = _off_grid(raw, grid)
    whole = regularize(raw, grid, 0)
    # Points arrive in time order: one arriving behind the newest is a late point, which the
    # pipelines re-score (watermarks.rescore_from) rather than trust a settled bin.
    ordered = raw.sort_index(kind="stable")
    for cut in sorted(set(c for c in cuts if c < len(raw))):
        arrived = ordered.iloc[:cut]
        done = settled(regularize(arrived, grid, 0), arrived.index.max())
        at = whole.index.get_indexer(done.index)
        assert bool(np.all(at >= 0))
        assert np.array_equal(whole.values[at], done.values)
