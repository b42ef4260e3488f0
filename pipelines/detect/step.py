"""The detection step, stage by stage: plan the read, read, regularize, predict, decide.

The daemon, backfill and evaluate run these same functions; only the source they read
through and the sink their rows go to differ. `read_step` needs an open transaction (it reads
through a source), `score_step` none: it runs the network and the detection maths, and the
walk-forward schedule loads or trains the model it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import pandas as pd

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.time_range import TimeRange
from forecaster.detection.decide import Decisions, Detector
from forecaster.detection.flat_start import flat_departures
from forecaster.detection.memo import DetectionMemo
from forecaster.model.predict import (
    Forecast,
    NetworkState,
    forecast_next,
    one_step_predictions,
    predict_and_forecast,
)
from forecaster.model.sequences import MIN_FLAT_RUN
from forecaster.series.frequency import GRID_SAMPLE, infer_grid
from forecaster.series.grid import Grid
from forecaster.series.regular import RegularSeries, regularize, settled
from pipelines.detect.plan import (
    ReadPlan,
    StepBounds,
    Waiting,
    complete_before,
    cutoff_for,
    effective_watermark,
    needs_full_read,
    plan_read,
    plan_step,
    season_of,
)
from pipelines.detect.source import StepSource
from pipelines.detect.state import SeriesState, finite_positive
from pipelines.detect.walk_forward import WalkForward
from pipelines.model_runtime import ActiveModel


@dataclass(frozen=True)
class Step:
    """One chunk of a series' new points with the context read before them."""

    state: SeriesState
    raw: pd.Series  # the raw points read (the span's source)
    span: RegularSeries  # regular points up to the step's last one
    bounds: StepBounds
    # One-step predictions stored for the span's points scored earlier (their errors are part
    # of the decisions' history: the same inputs a full replay would have); None: none needed.
    stored: pd.Series | None
    carried: tuple[int | None, NetworkState] | None  # the network state kept at the watermark
    # Where the read began: `raw` holds every raw point from here on (None: from the series'
    # first point), so a step remembered from it serves a later read that starts no earlier.
    read_from: pd.Timestamp | None = None
    # The series' carried detection state, updated by this step's decisions.
    memo: DetectionMemo = field(default_factory=DetectionMemo)

    @property
    def last_ts(self) -> pd.Timestamp:
        return self.span.index[-1]

    @property
    def new_grid(self) -> Grid | None:
        """The grid to store on the series row: the one the step read with, if none is."""
        return self.span.grid if self.state.grid_origin is None else None


@dataclass(frozen=True)
class Skipped:
    """A series with nothing to step on yet (too little history for the first model)."""

    state: SeriesState
    waiting: Waiting
    new_grid: Grid | None  # the grid to store, once inferred from a full sample


def read_plan(
    source: StepSource,
    state: SeriesState,
    pipeline: PipelineSettings,
    detector: Detector,
    *,
    until: datetime | None = None,
    start: datetime | None = None,
) -> ReadPlan:
    """Plan the read of a series' next step (a first step asks the source for its oldest point;
    a series without a stored grid, for its first points to infer it from)."""
    mark = effective_watermark(state.watermark, start)
    grid, new_grid = state.grid(pipeline.preprocess.frequency), None
    if grid is None:
        frequency = pipeline.preprocess.frequency or state.stored_frequency
        grid, full = sampled_grid(source, state.name, frequency)
        new_grid = grid if full else None
    first = mark is None and grid is not None
    plan = plan_read(
        pipeline,
        mark=mark,
        grid=grid,
        chain=state.chain,
        context_points=detector.context_points(season_of(pipeline, grid)),
        oldest=source.oldest(state.name) if first else None,
        until=until,
    )
    return replace(plan, new_grid=new_grid)


def sampled_grid(source: StepSource, name: str, frequency: str | None) -> tuple[Grid | None, bool]:
    """The grid inferred from the series' first GRID_SAMPLE points, and whether there were that
    many (a grid from fewer may still change as points arrive)."""
    sample = source.first_points(name, GRID_SAMPLE)
    finite = np.isfinite(sample.to_numpy(dtype=float))
    grid = infer_grid(pd.DatetimeIndex(sample.index[finite]), frequency)
    return grid, len(sample) >= GRID_SAMPLE


def read_step(
    source: StepSource,
    state: SeriesState,
    plan: ReadPlan,
    pipeline: PipelineSettings,
    *,
    until: datetime | None = None,
) -> Step | Skipped | None:
    """Read and regularize the span the next chunk needs; None when there is nothing new."""
    raw, complete = read_points(source, state, plan, pipeline, until=until)
    if raw.empty:
        return None
    preprocess = pipeline.preprocess
    span = regularize(
        raw.rename(state.name),
        plan.grid or preprocess.frequency,
        preprocess.max_gap_fill,
        preprocess.aggregate,
    )
    if complete is None:  # the read holds the newest point: its bin may not be complete yet
        span = settled(span, pd.DatetimeIndex(raw.index).max())
    bounds = plan_step(span, plan, pipeline, chain=state.chain, complete=complete)
    if bounds is None:
        return None
    if isinstance(bounds, Waiting):
        return Skipped(state, bounds, plan.new_grid)
    stored = None
    if bounds.first_new > 0 and bounds.cutoff is not None:
        scored_before = TimeRange(
            start=span.index[0].to_pydatetime(),
            end=span.index[bounds.first_new - 1].to_pydatetime(),
        )
        stored = source.predictions(state, scored_before)
    carried = source.network_state(state)
    memo = source.detection_memo(state) or DetectionMemo()
    return Step(state, raw, span.head(bounds.stop), bounds, stored, carried, plan.start, memo)


def read_points(
    source: StepSource,
    state: SeriesState,
    plan: ReadPlan,
    pipeline: PipelineSettings,
    *,
    until: datetime | None,
) -> tuple[pd.Series, pd.Timestamp | None]:
    """The raw points of a plan, and before when its grid steps are complete (None: all are).
    A bounded read that holds too little to step on reads on to `until`."""
    raw = source.points(state.name, plan.time_range)
    complete = complete_before(plan, source.newest(state.name) if plan.bounded else None)
    if complete is None:
        return raw, None
    waiting_for = None if state.chain else pipeline.training.initial_points
    if needs_full_read(pd.DatetimeIndex(raw.index), plan, complete, waiting_for=waiting_for):
        return source.points(state.name, plan.extended(until).time_range), None
    return raw, complete


@dataclass(frozen=True)
class Scored:
    """A step's predictions and decisions, ready to become rows."""

    step: Step
    model: ActiveModel | None  # the model that scored the step; None: warm-up, nothing scored
    predicted: np.ndarray  # one-step predictions over the whole span (NaN where none)
    decisions: Decisions | None
    ahead: Forecast | None  # forecasts of the grid steps after the span
    ahead_model: ActiveModel | None  # the model that made them (the next step's)
    network: NetworkState | None  # the network state after the span's last point

    @property
    def models_trained(self) -> int:
        models = {id(m): m for m in (self.model, self.ahead_model) if m is not None}
        return sum(m.trained_now for m in models.values())

    @property
    def points_scored(self) -> int:
        return int(np.isfinite(self.predicted[self.step.bounds.first_new :]).sum())


def score_step(
    step: Step,
    pipeline: PipelineSettings,
    *,
    models: WalkForward,
    detector: Detector,
    forecast_ahead: bool = False,
) -> Scored:
    """Predict and decide a step's new points with the walk-forward model of its cut-off.
    With `forecast_ahead`, a step that reaches the newest point also forecasts the steps after
    it with the model that will score them (from the same network pass when it is this one)."""
    span, bounds = step.span, step.bounds
    predicted = np.full(len(span), np.nan)
    ahead_cutoff = _ahead_cutoff(step, pipeline) if forecast_ahead else None
    ahead: Forecast | None
    ahead_model: ActiveModel | None
    if bounds.cutoff is None:  # warm-up: nothing to score yet, but a flat start may move
        ahead, ahead_model = _forecast_with(models, step, ahead_cutoff)
        flat = _flat_start_decisions(step) if step.state.chain == [] else None
        return Scored(step, None, predicted, flat, ahead, ahead_model, None)
    model = models.model_for(step.state, bounds.cutoff, grid=span.grid)
    new = np.arange(bounds.first_new, bounds.stop)
    network = None
    if ahead_cutoff == bounds.cutoff:  # this model scores the next step too: one pass
        predicted[new], ahead, network = predict_and_forecast(
            model.model, span, new, resume=_resume(step, model)
        )
        ahead_model = model if ahead is not None else None
    else:
        predicted[new] = one_step_predictions(model.model, span, new)
        ahead, ahead_model = _forecast_with(models, step, ahead_cutoff)
    _overlay(predicted, span, bounds.first_new, step.stored)
    decisions = detector.decide(
        span.values,
        span.observed,
        predicted,
        span.steps,
        bounds.first_new,
        reference_scale=_reference_scale(model),
        season=season_of(pipeline, span.grid),
        memo=step.memo,
    )
    return Scored(step, model, predicted, decisions, ahead, ahead_model, network)


def _flat_start_decisions(step: Step) -> Decisions | None:
    """Before the first model, a departure from the flat start of a span read from the
    series' first point (a warm-up read always starts there)."""
    span, bounds = step.span, step.bounds
    if step.raw.index.min() > span.index[0] or bounds.first_new >= bounds.stop:
        return None
    positions = np.arange(bounds.first_new, bounds.stop)
    return flat_departures(span.values, span.observed, positions, min_run=MIN_FLAT_RUN)


def _ahead_cutoff(step: Step, pipeline: PipelineSettings) -> int | None:
    """The cut-off of the model that scores the grid step after a step reaching the newest
    point; None when that step is not reached or no model exists yet."""
    bounds, chain = step.bounds, step.state.chain
    if not bounds.exhausted or (bounds.cutoff is None and not chain):
        return None
    following = int(step.span.steps[-1]) + 1
    cutoff, _ = cutoff_for(following, bounds.initial, pipeline.training.retrain_every, chain)
    return cutoff


def _forecast_with(
    models: WalkForward, step: Step, cutoff: int | None
) -> tuple[Forecast | None, ActiveModel | None]:
    """Forecasts after the span by the model of `cutoff` (None: no forecast)."""
    if cutoff is None:
        return None, None
    model = models.model_for(step.state, cutoff, grid=step.span.grid)
    return forecast_next(model.model, step.span), model


def _resume(step: Step, model: ActiveModel) -> NetworkState | None:
    """The network state kept at the watermark, when it belongs to this model."""
    if step.carried is None or step.carried[0] != model.version_id:
        return None
    return step.carried[1]  # one network step per new point instead of a whole run


def _overlay(
    predicted: np.ndarray, span: RegularSeries, first_new: int, stored: pd.Series | None
) -> None:
    """Put the stored predictions of the span's earlier points into `predicted`."""
    if stored is None:
        return
    where = span.index[:first_new].get_indexer(pd.DatetimeIndex(stored.index))
    ok = where >= 0
    predicted[where[ok]] = stored.to_numpy()[ok]


def _reference_scale(model: ActiveModel) -> float | None:
    """The model's validation RMSE (the static threshold's unit), when it is usable."""
    return finite_positive(model.model.metrics.get("rmse"))
