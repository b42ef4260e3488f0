"""The operator's view: per pipeline and series, how far scoring is and how fresh the model is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import select

from forecaster.db.repo.model_versions import latest_model_version
from forecaster.db.repo.series import find_series
from forecaster.db.repo.watermarks import get_watermark
from forecaster.db.session import transaction
from forecaster.db.tables import PipelineRun
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


def pipeline_status(context: AppContext, now: datetime) -> list[PipelineStatus]:
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
            errors = _errors_by_series(last_run.error if last_run else None)
            source = context.source(pipeline.name)
            rows = []
            for name in names:
                found = find_series(session=session, name=name)
                mark = model = None
                if found is not None:
                    mark = get_watermark(
                        session=session, pipeline=pipeline.name, series_id=found.id
                    )
                    model = latest_model_version(
                        session=session, pipeline=pipeline.name, series_id=found.id
                    )
                newest = source.newest(session, name)
                lag = None
                if mark is not None and newest is not None:
                    lag = max(pd.Timestamp(newest) - pd.Timestamp(mark), pd.Timedelta(0))
                rows.append(
                    SeriesStatus(
                        pipeline=pipeline.name,
                        series=name,
                        watermark=mark,
                        newest=newest.to_pydatetime() if newest is not None else None,
                        lag=lag,
                        model_version=model.version if model else None,
                        model_trained_at=model.created_at if model else None,
                        error=errors.get(name),
                    )
                )
        result.append(PipelineStatus(name=pipeline.name, series=rows, last_run=last_run))
    return result


def _errors_by_series(text: str | None) -> dict[str, str]:
    """Split a run's error column ('series: message; series: message') back by series."""
    if not text:
        return {}
    errors = {}
    for part in text.split("; "):
        name, sep, message = part.partition(": ")
        if sep:
            errors[name] = message
    return errors
