"""Daemon retraining: a new model at a series' watermark on a cron, or when its errors drift.

The model joins the series' walk-forward chain as an extra cut-off (the watermark's grid step),
so every later point is scored by it until the next scheduled or extra cut-off; a replay with
the stored models finds the same chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.forecasts import recent_one_step_predictions
from forecaster.db.repo.model_versions import list_model_versions
from forecaster.db.repo.watermarks import ensure_series_with_watermark
from forecaster.db.session import transaction
from forecaster.db.time_range import TimeRange
from forecaster.series.regular import regularize
from pipelines.context import AppContext
from pipelines.detect.run import series_state, train_at_cutoff


@dataclass(frozen=True)
class RetrainOutcome:
    """What the retraining job did for one series."""

    series: str
    trained: bool
    detail: str
    drift: float | None = None


def drift_ratio(context: AppContext, pipeline: PipelineSettings, name: str) -> float | None:
    """Mean absolute one-step error of the last `drift_window` scored points divided by the
    validation MAE of the newest walk-forward model; None while either is unknown."""
    window = pipeline.training.drift_window
    with transaction(context.sessions) as session:
        row, mark = ensure_series_with_watermark(session=session, pipeline=pipeline.name, name=name)
        if mark is None:
            return None
        versions = [
            v
            for v in list_model_versions(session=session, pipeline=pipeline.name, series_id=row.id)
            if isinstance(v.metrics, dict) and "cutoff_step" in v.metrics
        ]
        if not versions:
            return None
        newest = max(versions, key=lambda v: (int(v.metrics["cutoff_step"]), v.version))
        reference = newest.metrics.get("mae")
        predicted = recent_one_step_predictions(
            session=session, pipeline=pipeline.name, series_id=row.id, until=mark, limit=window
        )
        if len(predicted) < window // 2:
            return None
        observed = context.source(pipeline.name).read(
            session,
            name,
            TimeRange(start=predicted.index[0].to_pydatetime(), end=mark),
        )
    if not isinstance(reference, int | float) or not np.isfinite(reference) or reference <= 0:
        return None
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
        state = series_state(session, pipeline, name)
        if not state.scored:
            return False
        assert state.watermark is not None and state.frequency is not None
        # The watermark's grid step: read a little history to place it on the grid.
        offset = pd.tseries.frequencies.to_offset(state.frequency)
        start = (pd.Timestamp(state.watermark) - 4 * offset).to_pydatetime()
        tail = context.source(pipeline.name).read(
            session, name, TimeRange(start=start, end=state.watermark)
        )
    if tail.empty:
        return False
    span = regularize(tail.rename(name), state.frequency, pipeline.preprocess.max_gap_fill)
    cutoff = int(span.steps[-1])
    if cutoff <= state.chain[-1]:
        return False
    train_at_cutoff(context, pipeline, name, state.series_id, cutoff, reason=reason)
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
        return RetrainOutcome(name, False, detail, ratio)
    trained = retrain_series(
        context, pipeline, name, reason=f"drift: error {ratio:.2f}x validation"
    )
    return RetrainOutcome(name, trained, f"drift {ratio:.2f}x", ratio)
