"""What a detection step reads and which points it processes: watermark, cut-offs, context; pure.

A step takes the points after the watermark, at most one chunk of them and never across a
retraining cut-off, and reads before them the context its decisions and network pass depend
on (so a long backfill stays linear in time and bounded in memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from forecaster.config.model import ModelSettings
from forecaster.config.pipeline import PipelineSettings
from forecaster.db.time_range import TimeRange
from forecaster.model.features import seasonal_period
from forecaster.model.sequences import first_trainable, leading_flat_run
from forecaster.series.grid import Grid
from forecaster.series.regular import RegularSeries

# Grid steps read past the chunk: the last grid step read may still be incomplete.
CHUNK_SLACK = 2
# Grid steps of slack in the network's reach, for gaps inside its history.
NETWORK_SLACK = 8


def effective_watermark(
    watermark: pd.Timestamp | None, start: datetime | None
) -> pd.Timestamp | None:
    """The time after which points are new: the watermark, or just before `start` (points
    before a backfill's --start count as processed)."""
    if start is not None and (watermark is None or watermark < pd.Timestamp(start)):
        return pd.Timestamp(start) - pd.Timedelta(microseconds=1)
    return watermark


def cutoff_for(
    step: int, initial: int, retrain_every: int, chain: list[int]
) -> tuple[int | None, int]:
    """The training cut-off whose model scores grid step `step` (None: still warming up) and
    the last step that model scores. Cut-offs are the walk-forward schedule (initial, then
    every `retrain_every` steps) plus the extra ones in `chain` (drift or cron retraining)."""
    if step <= initial:
        return None, initial
    scheduled = initial + (step - initial - 1) // retrain_every * retrain_every
    cutoff = max([scheduled, *(c for c in chain if c < step)])
    limit = min([scheduled + retrain_every, *(c for c in chain if c >= step)])
    return cutoff, limit


def season_of(pipeline: PipelineSettings, grid: Grid | None) -> int | None:
    """A series' season in grid steps (the model's `seasonality` on its grid), if any."""
    return None if grid is None else seasonal_period(pipeline.model.seasonality, grid.frequency)


def network_reach(model: ModelSettings, frequency: str) -> int:
    """Points before a prediction that its network pass reads: the warm-up window and chunk,
    the seasonal lags of those inputs, and a little slack for gaps in the grid."""
    season = seasonal_period(model.seasonality, frequency) or 0
    return model.window + model.scoring_chunk + season + NETWORK_SLACK


@dataclass(frozen=True)
class ReadPlan:
    """The raw points a step reads: the scoring context before `mark`, then about one chunk."""

    mark: pd.Timestamp | None  # points after this time are new (None: every point is)
    grid: Grid | None  # the series' grid; None: inferred from the points read
    start: pd.Timestamp | None  # first point read (None: the series' first)
    end: pd.Timestamp | None  # last point read (None: up to the newest)
    bounded: bool  # `end` stops short of what the run may process: points may follow it
    # The grid inferred from a full sample of the series' first points, to store (None: the
    # grid is stored already, or was inferred from fewer points and may still change).
    new_grid: Grid | None = None

    @property
    def time_range(self) -> TimeRange:
        return TimeRange(start=_py(self.start), end=_py(self.end))

    def extended(self, until: datetime | None) -> ReadPlan:
        """The same read, on to `until` (or the newest point)."""
        end = None if until is None else pd.Timestamp(until)
        return ReadPlan(self.mark, self.grid, self.start, end, False, self.new_grid)


def plan_read(
    pipeline: PipelineSettings,
    *,
    mark: pd.Timestamp | None,
    grid: Grid | None,
    chain: list[int],
    context_points: int,
    oldest: pd.Timestamp | None,
    until: datetime | None,
) -> ReadPlan:
    """Where a step starts and stops reading. After a watermark with a model: the decisions'
    and the network's context, then the chunk. A series' first step: its first model's history
    and one chunk. Without a stored grid, or before the first model: everything up to `until`
    (the grid is inferred from the series' first points). A read starts where the bin of its
    first grid time starts, so that bin holds all of its raw points."""
    last = None if until is None else pd.Timestamp(until)
    if grid is None or (mark is not None and not chain) or (mark is None and oldest is None):
        return ReadPlan(mark, grid, None, last, bounded=False)
    offset = grid.offset
    if mark is not None:
        reach = context_points + network_reach(pipeline.model, grid.frequency)
        start: pd.Timestamp | None = mark - reach * offset - grid.lead
        bound = mark + (pipeline.backfill_chunk + CHUNK_SLACK) * offset
    else:
        assert oldest is not None
        start = None
        steps = pipeline.training.initial_points + pipeline.backfill_chunk + CHUNK_SLACK
        bound = oldest + steps * offset
    if last is None or bound < last:
        return ReadPlan(mark, grid, start, bound, bounded=True)
    return ReadPlan(mark, grid, start, last, bounded=False)


def complete_before(plan: ReadPlan, newest: pd.Timestamp | None) -> pd.Timestamp | None:
    """With points after a bounded read, only grid steps that end inside the read are complete
    (later raw points could still fall into the last one): the time they end before."""
    if not plan.bounded or newest is None or plan.end is None or newest <= plan.end:
        return None
    assert plan.grid is not None  # a bounded read knows its grid
    return plan.end - plan.grid.offset


def needs_full_read(
    times: pd.DatetimeIndex, plan: ReadPlan, complete: pd.Timestamp, *, waiting_for: int | None
) -> bool:
    """Whether a bounded read holds too little to step on: no new point (a gap longer than the
    bound after the watermark) or, before the first model, fewer than the `waiting_for` points
    it needs (gaps in that history). Then the step reads on to the end."""
    new = times if plan.mark is None else times[times > plan.mark]
    if len(new) == 0:
        return True
    return waiting_for is not None and int((new <= complete).sum()) < waiting_for


@dataclass(frozen=True)
class StepBounds:
    """Which positions of the span read a step processes, and with which model's cut-off."""

    first_new: int  # first position after the watermark
    stop: int  # positions first_new..stop-1 are processed
    initial: int  # grid step of the first cut-off
    cutoff: int | None  # the scoring model's cut-off; None: warm-up (not scored)
    limit_step: int  # the last grid step that model scores
    exhausted: bool  # the step reaches the last point there is: nothing is left after it
    note: str | None = None  # why the step is not scored although it has the history


@dataclass(frozen=True)
class Waiting:
    """Too little history for the first model: the series is not scored yet."""

    points: int
    needed: int

    @property
    def note(self) -> str:
        return (
            f"waiting for history: {self.points} of {self.needed} points needed before the "
            "first model"
        )


def plan_step(
    span: RegularSeries,
    plan: ReadPlan,
    pipeline: PipelineSettings,
    *,
    chain: list[int],
    complete: pd.Timestamp | None,
) -> StepBounds | Waiting | None:
    """The positions of `span` a step processes (None: nothing new): at most one chunk after
    the watermark, never past its model's last step, never into an incomplete grid step."""
    first_new = 0 if plan.mark is None else int(span.index.searchsorted(plan.mark, side="right"))
    if first_new >= len(span):
        return None
    training = pipeline.training
    if not chain and len(span) < training.initial_points:
        return Waiting(points=len(span), needed=training.initial_points)
    initial, note = (chain[0], None) if chain else first_cutoff(span, pipeline)
    cutoff, limit = cutoff_for(int(span.steps[first_new]), initial, training.retrain_every, chain)
    # One chunk at most, and never across a cut-off: one model per transaction.
    stop = min(
        len(span),
        first_new + pipeline.backfill_chunk,
        int(np.searchsorted(span.steps, limit, side="right")),
    )
    if complete is not None:
        complete_points = int(span.index.searchsorted(complete, side="right"))
        stop = max(min(stop, complete_points), first_new + 1)
    exhausted = stop == len(span) and complete is None
    return StepBounds(first_new, stop, initial, cutoff, limit, exhausted, note)


def first_cutoff(span: RegularSeries, pipeline: PipelineSettings) -> tuple[int, str | None]:
    """The grid step of a series' first training cut-off: `training.initial_points` points
    after its flat start, or later, at the first point where that history is trainable (long
    enough runs between gaps, not constant). None found yet: a step beyond the span, and a
    note saying why the series is not scored yet."""
    model, needed = pipeline.model, pipeline.training.initial_points
    flat = leading_flat_run(span)
    after_flat = span.slice(flat)
    position = first_trainable(
        after_flat,
        needed - 1,
        min_points=model.min_train_points,
        min_run=model.window + model.horizon,
    )
    if position is not None:
        return int(after_flat.steps[position]), None
    if flat and flat == len(span):
        note = f"not scored yet: constant at {span.values[0]:g} so far (a change is reported)"
    elif len(after_flat) < needed:
        note = f"not scored yet: {len(after_flat)} of {needed} points needed after its flat start"
    else:
        note = (
            "not scored yet: too few usable points (runs between long gaps must hold at least "
            f"{model.window + model.horizon}) or too little variation; retried as data arrives"
        )
    return int(span.steps[-1]) + 1, note


def _py(ts: pd.Timestamp | None) -> datetime | None:
    return None if ts is None else ts.to_pydatetime()
