"""The read plan of a detection step, on hand-made inputs: what is read, which points are new,
which model scores them; pure (no database, no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from forecaster.config.pipeline import PipelineSettings
from forecaster.series.grid import Grid
from forecaster.series.regular import regularize
from pipelines.detect.plan import (
    ReadPlan,
    StepBounds,
    Waiting,
    complete_before,
    cutoff_for,
    effective_watermark,
    needs_full_read,
    network_reach,
    plan_read,
    plan_step,
)

T0 = pd.Timestamp("2024-01-01", tz="UTC")
HOUR = pd.Timedelta("1h")
HOURLY = Grid("h")
PIPELINE = PipelineSettings.model_validate(
    {
        "name": "p",
        "model": {"window": 4, "horizon": 2, "seasonality": "none"},
        "training": {"initial_points": 10, "retrain_every": 20},
        "backfill_chunk": 5,
    }
)


def hourly(n: int, start: int = 0) -> pd.Series:
    index = pd.date_range(T0 + start * HOUR, periods=n, freq="h")
    return pd.Series(np.arange(n, dtype=float), index=index, name="s")


def test_the_watermark_moves_to_just_before_start() -> None:
    start = datetime(2024, 1, 2, tzinfo=UTC)
    assert effective_watermark(None, None) is None
    assert effective_watermark(T0, None) == T0
    assert effective_watermark(None, start) == pd.Timestamp(start) - pd.Timedelta("1us")
    assert effective_watermark(T0, start) == pd.Timestamp(start) - pd.Timedelta("1us")
    later = pd.Timestamp("2024-01-03", tz="UTC")
    assert effective_watermark(later, start) == later  # a watermark past --start stays


def test_cutoffs_follow_the_schedule_and_the_extra_models() -> None:
    # initial 100, every 50: steps 101..150 use cut-off 100, 151..200 cut-off 150.
    assert cutoff_for(90, 100, 50, [100]) == (None, 100)
    assert cutoff_for(101, 100, 50, [100]) == (100, 150)
    assert cutoff_for(151, 100, 50, [100, 150]) == (150, 200)
    # A drift model at step 120 takes over after it, until the next scheduled cut-off.
    assert cutoff_for(110, 100, 50, [100, 120]) == (100, 120)
    assert cutoff_for(121, 100, 50, [100, 120]) == (120, 150)
    assert cutoff_for(151, 100, 50, [100, 120, 150]) == (150, 200)


def test_a_step_after_a_model_reads_its_context_and_about_one_chunk() -> None:
    mark = T0 + 100 * HOUR
    plan = plan_read(
        PIPELINE, mark=mark, grid=HOURLY, chain=[50], context_points=30, oldest=T0, until=None
    )
    reach = 30 + network_reach(PIPELINE.model, "h")  # window 4 + chunk 4 + no season + 8 slack
    assert reach == 30 + 16
    assert plan == ReadPlan(
        mark, HOURLY, mark - reach * HOUR - HOUR / 2, mark + 7 * HOUR, bounded=True
    )
    # An `until` before the bound ends the read there, and nothing can follow it.
    until = mark + 3 * HOUR
    near = plan_read(
        PIPELINE, mark=mark, grid=HOURLY, chain=[50], context_points=30, oldest=T0, until=until
    )
    assert (near.end, near.bounded) == (until, False)


def test_a_first_step_reads_the_first_models_history_and_one_chunk() -> None:
    plan = plan_read(
        PIPELINE, mark=None, grid=HOURLY, chain=[], context_points=30, oldest=T0, until=None
    )
    assert plan == ReadPlan(None, HOURLY, None, T0 + (10 + 5 + 2) * HOUR, bounded=True)


@pytest.mark.parametrize(
    ("mark", "grid", "chain"),
    [(T0, HOURLY, []), (None, None, []), (T0, None, [5])],
    ids=["no model yet", "no grid", "grid unknown"],
)
def test_without_a_model_or_a_grid_everything_is_read(
    mark: pd.Timestamp | None, grid: Grid | None, chain: list[int]
) -> None:
    plan = plan_read(
        PIPELINE,
        mark=mark,
        grid=grid,
        chain=chain,
        context_points=30,
        oldest=T0,
        until=None,
    )
    assert (plan.start, plan.end, plan.bounded) == (None, None, False)


def test_only_grid_steps_inside_a_bounded_read_count_as_complete() -> None:
    plan = ReadPlan(None, HOURLY, None, T0 + 10 * HOUR, bounded=True)
    assert complete_before(plan, None) is None
    assert complete_before(plan, T0 + 10 * HOUR) is None  # nothing after the read
    assert complete_before(plan, T0 + 11 * HOUR) == T0 + 9 * HOUR
    assert complete_before(ReadPlan(None, HOURLY, None, None, bounded=False), T0) is None


def test_a_read_too_short_to_step_on_reads_on() -> None:
    plan = ReadPlan(T0 + 4 * HOUR, HOURLY, None, T0 + 10 * HOUR, bounded=True)
    times = pd.DatetimeIndex(hourly(5).index)  # nothing after the watermark (a long gap)
    assert needs_full_read(times, plan, T0 + 9 * HOUR, waiting_for=None)
    times = pd.DatetimeIndex(hourly(10).index)
    assert not needs_full_read(times, plan, T0 + 9 * HOUR, waiting_for=None)
    assert needs_full_read(times, plan, T0 + 9 * HOUR, waiting_for=8)  # 5 new, 8 needed


def test_a_step_takes_one_chunk_and_never_crosses_a_cutoff() -> None:
    span = regularize(hourly(40), "h", 3)
    s0 = int(span.steps[0])  # grid steps are absolute: hours since the epoch here
    plan = ReadPlan(T0 + 11 * HOUR, HOURLY, None, None, bounded=False)
    bounds = plan_step(span, plan, PIPELINE, chain=[s0 + 9], complete=None)
    # new points from position 12; cut-off s0+9 scores steps up to s0+29; chunk 5
    assert bounds == StepBounds(12, 17, s0 + 9, s0 + 9, s0 + 29, exhausted=False)
    near_cutoff = ReadPlan(T0 + 26 * HOUR, HOURLY, None, None, bounded=False)
    assert plan_step(span, near_cutoff, PIPELINE, chain=[s0 + 9], complete=None) == StepBounds(
        27, 30, s0 + 9, s0 + 9, s0 + 29, exhausted=False
    )
    last = ReadPlan(T0 + 37 * HOUR, HOURLY, None, None, bounded=False)
    chain = [s0 + 9, s0 + 29]
    assert plan_step(span, last, PIPELINE, chain=chain, complete=None) == StepBounds(
        38, 40, s0 + 9, s0 + 29, s0 + 49, exhausted=True
    )


def test_a_step_before_the_first_model_warms_up_or_waits() -> None:
    span = regularize(hourly(12), "h", 3)
    s0 = int(span.steps[0])
    plan = ReadPlan(None, HOURLY, None, None, bounded=False)
    # the first 10 points are the first model's history: a warm-up step up to its cut-off
    assert plan_step(span, plan, PIPELINE, chain=[], complete=None) == StepBounds(
        0, 5, s0 + 9, None, s0 + 9, exhausted=False
    )
    short = regularize(hourly(6), "h", 3)
    waiting = plan_step(short, plan, PIPELINE, chain=[], complete=None)
    assert waiting == Waiting(points=6, needed=10)
    assert isinstance(waiting, Waiting) and "6 of 10 points" in waiting.note


def test_an_incomplete_last_grid_step_is_left_for_the_next_read() -> None:
    span = regularize(hourly(20), "h", 3)
    plan = ReadPlan(T0 + 14 * HOUR, HOURLY, None, T0 + 19 * HOUR, bounded=True)
    chain = [int(span.steps[9])]
    bounds = plan_step(span, plan, PIPELINE, chain=chain, complete=T0 + 16 * HOUR)
    assert isinstance(bounds, StepBounds)
    assert (bounds.first_new, bounds.stop, bounds.exhausted) == (15, 17, False)
    nothing_new = ReadPlan(T0 + 19 * HOUR, HOURLY, None, None, bounded=False)
    assert plan_step(span, nothing_new, PIPELINE, chain=chain, complete=None) is None
