"""The operator's view: per pipeline and series, how far scoring is and how fresh the model is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.db.repo.model_versions import latest_model_version
from forecaster.db.repo.series import find_series
from forecaster.db.repo.watermarks import get_watermark
from forecaster.db.session import transaction
from forecaster.db.tables import PipelineRun
from forecaster.io.sources import SeriesSource
from pipelines.context import AppContext
from pipelines.selection import select_series


@dataclass(frozen=True)
class SeriesStatus:
    """One series of one pipeline."""

    pipeline: str
    series: str
    watermark: datetime | None
    newest: datetime | None
    lag: pd.Timedelta | None  # newest observation - watermark (None before the first cycle)
    model_version: int | None
    model_trained_at: datetime | None
    error: str | None  # the series' error in the pipeline's last daemon or backfill run


@dataclass(frozen=True)
class PipelineStatus:
    """A pipeline's series and its last runs."""

    name: str
    series: list[SeriesStatus]
    last_run: PipelineRun | None


def pipeline_status(context: AppContext) -> list[PipelineStatus]:
    """Status of every configured pipeline (reads only; one short transaction each)."""
    result = []
    for pipeline in context.settings.pipelines:
        with transaction(context.sessions) as session:
            names = select_series(context, session, pipeline, ())
            last_run = session.scalars(
                select(PipelineRun)
                .where(PipelineRun.pipeline == pipeline.name)
                .order_by(PipelineRun.started_at.desc(), PipelineRun.id.desc())
                .limit(1)
            ).first()
            errors = (last_run.series_errors or {}) if last_run else {}
            source = context.source(pipeline.name)
            rows = [
                _series_status(session, source, pipeline.name, name, errors.get(name))
                for name in names
            ]
        result.append(PipelineStatus(name=pipeline.name, series=rows, last_run=last_run))
    return result


def _series_status(
    session: Session, source: SeriesSource, pipeline: str, name: str, error: str | None
) -> SeriesStatus:
    found = find_series(session=session, name=name)
    mark = model = None
    if found is not None:
        mark = get_watermark(session=session, pipeline=pipeline, series_id=found.id)
        model = latest_model_version(session=session, pipeline=pipeline, series_id=found.id)
    newest = source.newest(session, name)
    lag = None
    if mark is not None and newest is not None:
        lag = max(pd.Timestamp(newest) - pd.Timestamp(mark), pd.Timedelta(0))
    return SeriesStatus(
        pipeline=pipeline,
        series=name,
        watermark=mark,
        newest=newest.to_pydatetime() if newest is not None else None,
        lag=lag,
        model_version=model.version if model else None,
        model_trained_at=model.created_at if model else None,
        error=error,
    )
