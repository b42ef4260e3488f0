"""Train one series of a pipeline and make sure a usable model exists before scoring."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.series import ensure_series
from forecaster.db.session import transaction
from forecaster.db.time_range import TimeRange
from forecaster.errors import ModelArtifactError, ModelNotFound
from forecaster.series.grid import Grid
from forecaster.series.regular import RegularSeries
from pipelines.context import AppContext
from pipelines.model_runtime import ActiveModel, version_id_of
from pipelines.reading import regular

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesData:
    """A series as the pipelines see it: its row id and its regular points."""

    series_id: int
    name: str
    data: RegularSeries


def load_series(
    context: AppContext,
    session: Session,
    pipeline: PipelineSettings,
    name: str,
    time_range: TimeRange = TimeRange(),
) -> SeriesData:
    """Read a series through the pipeline's source and put it on its regular grid (a series
    of a user's table gets its row here: models are recorded against it)."""
    raw = context.source(pipeline.name).read(session, name, time_range)  # unknown: an error
    row = ensure_series(session=session, name=name)
    frequency = pipeline.preprocess.frequency or row.frequency
    grid = Grid.stored(frequency, row.grid_origin) or frequency
    data = regular(raw, pipeline, name, grid=grid, time_range=time_range)
    return SeriesData(series_id=row.id, name=name, data=data)


def train_series(
    context: AppContext, pipeline_name: str | None, name: str, *, until: datetime | None = None
) -> ActiveModel:
    """Train a new version on the series' points up to `until` (all points when None)."""
    pipeline = context.settings.pipeline(pipeline_name)
    with transaction(context.sessions) as session:
        series = load_series(context, session, pipeline, name, TimeRange(end=until))
    return context.models.train_and_store(
        context.sessions,
        pipeline=pipeline.name,
        series=name,
        series_id=series.series_id,
        data=series.data,
        settings=pipeline.model,
        reason=f"trained on points up to {until.isoformat()}" if until else "trained on all points",
    )


def current_model(
    context: AppContext, pipeline: PipelineSettings, series: SeriesData
) -> ActiveModel:
    """The newest stored model; trains one when none exists, the artifact is unreadable, or the
    pipeline's model settings changed since it was trained."""
    reason = ""
    try:
        stored = context.models.load_latest(pipeline.name, series.name)
        if stored.model.settings == pipeline.model:
            with transaction(context.sessions) as session:
                version_id = version_id_of(
                    session,
                    pipeline=pipeline.name,
                    series_id=series.series_id,
                    version=stored.version,
                )
            return ActiveModel(
                model=stored.model,
                version=stored.version,
                version_id=version_id,
                path=stored.path,
            )
        reason = f"model settings changed since version {stored.version}"
    except ModelNotFound:
        reason = "no model stored yet"
    except ModelArtifactError as exc:
        log.warning("%s; retraining", exc)
        reason = f"stored model unusable ({exc})"
    return context.models.train_and_store(
        context.sessions,
        pipeline=pipeline.name,
        series=series.name,
        series_id=series.series_id,
        data=series.data,
        settings=pipeline.model,
        reason=reason,
    )
