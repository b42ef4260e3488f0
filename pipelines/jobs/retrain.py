"""Daemon retraining: a new model at a series' watermark on a cron, or when its errors drift.

The model joins the series' walk-forward chain as an extra cut-off (the watermark's grid step),
so every later point is scored by it until the next scheduled or extra cut-off; a replay with
the stored models finds the same chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.forecasts import recent_one_step_predictions
from forecaster.db.session import transaction
from forecaster.db.time_range import TimeRange
from pipelines.context import AppContext
from pipelines.detect.run import database_io
from pipelines.detect.walk_forward import WalkForward
from pipelines.reading import regular


@dataclass(frozen=True)
class RetrainOutcome:
    """What the retraining job did for one series."""

    series: str
    trained: bool
    detail: str


def drift_ratio(context: AppContext, pipeline: PipelineSettings, name: str) -> float | None:
    """Mean absolute one-step error of the last `drift_window` scored points divided by the
    validation MAE of the newest walk-forward model; None while either is unknown."""
    window = pipeline.training.drift_window
    with transaction(context.sessions) as session:
        state = database_io(context, pipeline).source(session).state(name)
        if state.watermark is None or not state.versions:
            return None
        reference = max(state.versions, key=lambda v: (v.cutoff, v.version)).mae
        mark = state.watermark.to_pydatetime()
        predicted = recent_one_step_predictions(
            session=session,
            pipeline=pipeline.name,
            series_id=state.series_id,
            until=mark,
            limit=window,
        )
        if reference is None or len(predicted) < window // 2:
            return None
        observed = context.source(pipeline.name).read(
            session, name, TimeRange(start=predicted.index[0].to_pydatetime(), end=mark)
        )
    errors = (observed.reindex(predicted.index) - predicted).abs().dropna()
    if len(errors) < window // 2:
        return None
    return float(errors.mean() / reference)


def retrain_series(
    context: AppContext, pipeline: PipelineSettings, name: str, *, reason: str
) -> bool:
    """Train a model on the points up to the watermark and add it to the walk-forward chain.

    False when there is nothing to do: no model yet (the first one comes from the detection
    cycle), or a model already ends at the watermark.
    """
    with transaction(context.sessions) as session:
        state = database_io(context, pipeline).source(session).state(name)
        grid = state.grid(pipeline.preprocess.frequency)
        if state.watermark is None or not state.chain or grid is None:
            return False
        # The watermark's grid step: read a little history to place it on the grid.
        start = state.watermark - 4 * grid.offset - grid.lead
        tail = context.source(pipeline.name).read(
            session,
            name,
            TimeRange(start=start.to_pydatetime(), end=state.watermark.to_pydatetime()),
        )
    if tail.empty:
        return False
    cutoff = int(regular(tail, pipeline, name, grid=grid).steps[-1])
    if cutoff <= state.chain[-1]:
        return False
    WalkForward(context, pipeline).train_at(state, cutoff, grid=grid, reason=reason)
    return True


def retrain_if_needed(
    context: AppContext, pipeline: PipelineSettings, name: str, *, scheduled: bool
) -> RetrainOutcome:
    """The retraining job's decision for one series: always on a cron, else on drift."""
    if scheduled:
        trained = retrain_series(context, pipeline, name, reason="scheduled retraining")
        return RetrainOutcome(name, trained, "scheduled" if trained else "nothing new")
    factor = pipeline.training.drift_factor
    if factor is None:
        return RetrainOutcome(name, False, "drift check off")
    ratio = drift_ratio(context, pipeline, name)
    if ratio is None or ratio <= factor:
        detail = "no drift" if ratio is not None else "too few scored points"
        return RetrainOutcome(name, False, detail)
    trained = retrain_series(
        context, pipeline, name, reason=f"drift: error {ratio:.2f}x validation"
    )
    return RetrainOutcome(name, trained, f"drift {ratio:.2f}x")
