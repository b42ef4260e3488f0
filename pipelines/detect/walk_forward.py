"""Which model scores which step: the walk-forward model of a cut-off, loaded or trained now.

A point at grid step t is scored by the model trained on the points up to the cut-off before
it (the first after `training.initial_points` points, then every `retrain_every` steps, plus
drift or cron retrainings), so a backfill never uses a model that saw its future.
"""

from __future__ import annotations

import logging

import numpy as np

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.model_versions import list_model_versions
from forecaster.db.session import transaction
from forecaster.errors import ModelArtifactError, ModelNotFound, SeriesTooShort
from forecaster.model.sequences import leading_flat_run
from forecaster.model.train import WarmStart
from forecaster.series.grid import Grid
from forecaster.series.regular import RegularSeries
from pipelines.context import AppContext
from pipelines.detect.state import SeriesState, walk_forward_versions
from pipelines.model_runtime import ActiveModel
from pipelines.reading import read_regular

log = logging.getLogger(__name__)


class WalkForward:
    """The walk-forward models of one pipeline's series."""

    def __init__(self, context: AppContext, pipeline: PipelineSettings) -> None:
        self.context = context
        self.pipeline = pipeline

    def model_for(self, state: SeriesState, cutoff: int, *, grid: Grid) -> ActiveModel:
        """The model of a cut-off: the newest stored one of the pipeline's model settings,
        else one trained now on the points up to it (on `grid`)."""
        pipeline = self.pipeline
        for row in reversed([v for v in state.versions if v.cutoff == cutoff]):
            try:
                stored = self.context.models.load_version(pipeline.name, state.name, row.version)
            except (ModelArtifactError, ModelNotFound) as exc:
                log.warning("%s; retraining", exc)
                continue
            if stored.model.settings == pipeline.model:
                return ActiveModel(
                    model=stored.model,
                    version=row.version,
                    version_id=row.version_id,
                    path=stored.path,
                )
        reason = f"walk-forward cut-off at step {cutoff}"
        return self.train_at(state, cutoff, grid=grid, reason=reason)

    def train_at(self, state: SeriesState, cutoff: int, *, grid: Grid, reason: str) -> ActiveModel:
        """Train and store the model of a cut-off on the series' points up to that grid step."""
        data = self._training_data(state.name, cutoff, grid)
        return self.context.models.train_and_store(
            self.context.sessions,
            pipeline=self.pipeline.name,
            series=state.name,
            series_id=state.series_id,
            data=data,
            settings=self.pipeline.model,
            reason=reason,
            extra_metrics={"cutoff_step": cutoff, "reason": reason},
            warm=self._warm_start(state, cutoff, points=len(data)),
        )

    def _warm_start(self, state: SeriesState, cutoff: int, *, points: int) -> WarmStart | None:
        """The weights a retraining at `cutoff` on `points` points starts from: those of the
        newest stored model of the latest earlier cut-off, when it has the pipeline's model
        settings, saw at least `warm_min_share` of `points` and kept its network, for
        `retrain_epochs` (never more than a first model's `model.epochs`). None: from scratch."""
        training = self.pipeline.training
        if training.retrain_epochs is None:
            return None
        epochs = min(training.retrain_epochs, self.pipeline.model.epochs)
        # Read now, not from `state`: the step may have just trained the previous cut-off's
        # model (a step scores with one model and forecasts ahead with the next), and every
        # chunking must start from the same weights.
        with transaction(self.context.sessions) as session:
            rows = list_model_versions(
                session=session, pipeline=self.pipeline.name, series_id=state.series_id
            )
        earlier = [v for v in walk_forward_versions(rows) if v.cutoff < cutoff]
        if not earlier:
            return None
        latest = max(v.cutoff for v in earlier)
        for row in sorted((v for v in earlier if v.cutoff == latest), key=lambda v: -v.version):
            try:
                stored = self.context.models.load_version(
                    self.pipeline.name, state.name, row.version
                )
            except (ModelArtifactError, ModelNotFound):
                continue
            if stored.model.settings != self.pipeline.model:
                continue
            # Weights fitted to a much shorter history (a first model's 500 points before a
            # 2,500-point retraining), or worse than the last value, are no head start.
            seen = stored.model.metrics.get("points", 0)
            if stored.model.persistence or seen < training.warm_min_share * points:
                return None
            return WarmStart(weights=stored.model.weights, epochs=epochs)
        return None

    def _training_data(self, name: str, cutoff: int, grid: Grid) -> RegularSeries:
        """Regular points with grid step <= cutoff, ending on a real observation (no fill that
        would depend on a later point), whatever the span a step read; without a flat start
        (the identical readings a series may begin with are not what it does)."""
        source = self.context.source(self.pipeline.name)
        with transaction(self.context.sessions) as session:
            full = read_regular(source, session, self.pipeline, name, grid=grid)
        full = full.slice(leading_flat_run(full))
        stop = int(np.searchsorted(full.steps, cutoff, side="right"))
        while stop > 0 and not full.observed[stop - 1]:
            stop -= 1
        if stop == 0:
            raise SeriesTooShort(f"series {name!r} has no points before its first training cut-off")
        return full.head(stop)
