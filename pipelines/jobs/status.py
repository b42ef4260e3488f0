"""The operator's view: per pipeline and series, how far scoring is and how fresh the model is,
and each series' latest outcome (its newest error, unless it was processed well since)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.db.repo.model_versions import latest_model_version
from forecaster.db.repo.series import find_series
from forecaster.db.repo.watermarks import get_watermark
from forecaster.db.session import transaction
from forecaster.db.tables import PipelineRun, Series, SeriesLease, Watermark
from forecaster.errors import ForecasterError
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
    error: str | None  # the series' newest error, unless a later run processed it well
    note: str | None = None  # before its first model: why it is not scored yet


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
            errors = latest_errors(session, pipeline.name, names)
            notes = latest_notes(session, pipeline.name, names)
            source = context.source(pipeline.name)
            rows = [
                _series_status(session, source, pipeline.name, name, errors.get(name))
                for name in names
            ]
            rows = [
                replace(r, note=notes.get(r.series)) if r.model_version is None else r for r in rows
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
    try:
        newest = source.newest(session, name)
    except ForecasterError as exc:  # e.g. a user's table holds an unusable series name
        newest, error = None, str(exc)
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


# Runs with errors looked back through for each series' newest error (a daemon that runs
# every minute writes a run each minute; a series that still fails is in the newest ones).
ERROR_RUNS_SCANNED = 1000


def latest_notes(session: Session, pipeline: str, names: list[str]) -> dict[str, str]:
    """Each series' note in the newest of the pipeline's runs that left one (e.g. `not scored
    yet: constant at -1 so far`)."""
    wanted, found = set(names), {}
    runs = session.scalars(
        select(PipelineRun.series_notes)
        .where(PipelineRun.pipeline == pipeline, PipelineRun.series_notes.is_not(None))
        .order_by(PipelineRun.started_at.desc(), PipelineRun.id.desc())
        .limit(ERROR_RUNS_SCANNED)
    )
    for notes in runs:
        for name, note in (notes or {}).items():
            if name in wanted and name not in found:
                found[name] = note
        if len(found) == len(wanted):
            break
    return found


def latest_errors(session: Session, pipeline: str, names: list[str]) -> dict[str, str]:
    """Each series' error in the newest of the pipeline's runs that failed it, unless a later
    run processed it without one: its watermark moved after that run finished, or a later
    daemon cycle of the same job took it. A run of other series hides nothing."""
    wanted = set(names)
    newest: dict[str, tuple[str, PipelineRun]] = {}
    runs = session.scalars(
        select(PipelineRun)
        .where(PipelineRun.pipeline == pipeline, PipelineRun.series_errors.is_not(None))
        .order_by(PipelineRun.started_at.desc(), PipelineRun.id.desc())
        .limit(ERROR_RUNS_SCANNED)
    )
    for run in runs:
        for name, message in (run.series_errors or {}).items():
            if name in wanted and name not in newest:
                newest[name] = (message, run)
        if len(newest) == len(wanted):
            break
    if not newest:
        return {}
    later = session.execute(
        select(
            Series.name, Watermark.updated_at, SeriesLease.detect_cycle, SeriesLease.retrain_cycle
        )
        .outerjoin(Watermark, (Watermark.series_id == Series.id) & (Watermark.pipeline == pipeline))
        .outerjoin(
            SeriesLease, (SeriesLease.series_id == Series.id) & (SeriesLease.pipeline == pipeline)
        )
        .where(Series.name.in_(list(newest)))
    )
    for name, marked, detected, retrained in later:
        run = newest[name][1]
        done = run.finished_at or run.started_at
        cycle = {"daemon-detect": detected, "daemon-retrain": retrained}.get(run.kind)
        if (marked is not None and marked > done) or (
            cycle is not None and run.cycle_at is not None and cycle > run.cycle_at
        ):
            del newest[name]
    return {name: message for name, (message, _run) in newest.items()}
