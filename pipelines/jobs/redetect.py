"""`forecaster redetect`: decide processed points again from their stored one-step predictions.

Tuning detection settings needs no retraining: the network's one-step predictions are stored
in `forecasts`, so anomalies and events can be recomputed with the current `detection`
settings in seconds. Each series is redone in one transaction (its old rows deleted, the new
ones written together); its watermark stays where it is.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.anomalies import upsert_anomalies
from forecaster.db.repo.events import upsert_events
from forecaster.db.repo.forecasts import read_prediction_models
from forecaster.db.repo.rescoring import clear_detections
from forecaster.db.repo.runs import start_run
from forecaster.db.session import transaction
from forecaster.db.time_range import TimeRange
from forecaster.detection.decide import Detector
from forecaster.series.regular import RegularSeries, regularize
from pipelines.context import AppContext
from pipelines.detect.plan import network_reach, season_of
from pipelines.detect.replay import NO_MODEL, Replay, joined, replay_decisions
from pipelines.detect.rescore import rewind_corrected
from pipelines.detect.rows import anomaly_payload, event_payload, grouping_of
from pipelines.detect.run import SeriesReport
from pipelines.detect.source import DatabaseSource
from pipelines.detect.state import SeriesState
from pipelines.jobs.backfill import RunResult, close_run
from pipelines.jobs.guard import guarded
from pipelines.selection import select_series


def redetect(
    context: AppContext,
    pipeline_name: str | None,
    *,
    names: Sequence[str] = (),
    start: datetime | None = None,
    on_done: Callable[[SeriesReport], None] | None = None,
) -> RunResult:
    """Recompute the anomalies and events of the selected series (from `start` on, else all)
    with the pipeline's current detection settings; a failing series is reported and skipped."""
    pipeline = context.settings.pipeline(pipeline_name)
    with transaction(context.sessions) as session:
        series = select_series(context, session, pipeline, names)
        run_id = start_run(
            session=session,
            pipeline=pipeline.name,
            kind="redetect",
            host=socket.gethostname(),
            now=context.clock(),
        ).id
    detector = Detector.from_settings(pipeline.detection)
    rewound = rewind_corrected(context, pipeline, series)
    reports = []
    for name in series:
        report = _redetect_series(context, pipeline, detector, name, start, run_id)
        if name in rewound:
            report.note(f"{rewound[name]}: run backfill to score it again")
        reports.append(report)
        if on_done is not None:
            on_done(report)
    return close_run(context, pipeline.name, run_id, reports)


def _redetect_series(
    context: AppContext,
    pipeline: PipelineSettings,
    detector: Detector,
    name: str,
    start: datetime | None,
    run_id: int,
) -> SeriesReport:
    """One series redone in its own transaction; its failure is its report's error."""
    began = time.perf_counter()

    def work() -> SeriesReport:
        with transaction(context.sessions) as session:
            source = DatabaseSource(session, pipeline.name, context.source(pipeline.name))
            return redetect_series(
                source, pipeline, detector, name, start=start, run_id=run_id, now=context.clock()
            )

    report = guarded(name, work)
    report.seconds = time.perf_counter() - began
    return report


def redetect_series(
    source: DatabaseSource,
    pipeline: PipelineSettings,
    detector: Detector,
    name: str,
    *,
    start: datetime | None,
    run_id: int | None,
    now: datetime,
) -> SeriesReport:
    """Delete a series' anomalies and events from `start` (all: None) and write those its
    stored predictions give with `detector`, in the caller's transaction."""
    report = SeriesReport(series=name)
    session = source.session
    state = source.state(name)
    grid = state.grid(pipeline.preprocess.frequency)
    if state.watermark is None or grid is None:
        report.note("not processed yet: nothing to redetect (run backfill first)")
        return report
    mark = clear_detections(
        session=session, pipeline=pipeline.name, series_id=state.series_id, before=start
    )
    if mark is not None and mark >= state.watermark:
        return report
    state = source.state(name)  # its last event is now the one before the mark
    replay = _replay(source, state, pipeline, detector, mark)
    if replay is None:
        return report
    _write(session, pipeline, state, replay, detector, run_id=run_id, now=now, report=report)
    return report


def _replay(
    source: DatabaseSource,
    state: SeriesState,
    pipeline: PipelineSettings,
    detector: Detector,
    mark: datetime | None,
) -> Replay | None:
    """The points and stored predictions to decide again after `mark` (None: all): the
    detector's context before it, or the whole series when that reaches into the warm-up
    (the flat-start rule judges from the series' first point)."""
    grid = state.grid(pipeline.preprocess.frequency)
    assert grid is not None
    season = season_of(pipeline, grid)
    initial = state.chain[0] if state.chain else None
    span = None
    if mark is not None and initial is not None:
        # As far back as a step after `mark` read (plan_read): the same decisions' history.
        reach = detector.context_points(season) + network_reach(pipeline.model, grid.frequency)
        context_start = pd.Timestamp(mark) - reach * grid.offset
        span = _read_span(source, state, pipeline, context_start - grid.lead)
        if span is not None and int(span.steps[0]) <= initial:
            span = None
    from_first_point = span is None
    if span is None:
        span = _read_span(source, state, pipeline, None)
    if span is None:
        return None
    first_new = 0 if mark is None else int(span.index.searchsorted(pd.Timestamp(mark), "right"))
    scored = TimeRange(start=span.index[0].to_pydatetime(), end=span.index[-1].to_pydatetime())
    models = read_prediction_models(
        session=source.session,
        pipeline=pipeline.name,
        series_id=state.series_id,
        time_range=scored,
    )
    return Replay(
        span=span,
        predicted=_at(span.index, source.predictions(state, scored), np.nan),
        model_ids=_at(span.index, models.fillna(NO_MODEL), NO_MODEL).astype(np.int64),
        first_new=first_new,
        initial=initial,
        from_first_point=from_first_point,
        season=season,
    )


def _read_span(
    source: DatabaseSource,
    state: SeriesState,
    pipeline: PipelineSettings,
    read_from: pd.Timestamp | None,
) -> RegularSeries | None:
    """The regular points from `read_from` (None: the first) up to the watermark, as the
    steps saw them (every bin up to the watermark was complete when it was processed)."""
    preprocess = pipeline.preprocess
    grid = state.grid(preprocess.frequency)
    assert grid is not None and state.watermark is not None
    start = None if read_from is None else read_from.to_pydatetime()
    end = grid.bin_end(state.watermark).to_pydatetime()
    raw = source.points(state.name, TimeRange(start=start, end=end))
    if raw.empty:
        return None
    span = regularize(raw.rename(state.name), grid, preprocess.max_gap_fill, preprocess.aggregate)
    kept = int(span.index.searchsorted(state.watermark, side="right"))
    return span.head(kept) if kept else None


def _at(index: pd.DatetimeIndex, values: pd.Series, missing: float) -> np.ndarray:
    """`values` placed on `index` (`missing` where a time has none)."""
    return values.reindex(index).fillna(missing).to_numpy(dtype=float)


def _write(
    session: Session,
    pipeline: PipelineSettings,
    state: SeriesState,
    replay: Replay,
    detector: Detector,
    *,
    run_id: int | None,
    now: datetime,
    report: SeriesReport,
) -> None:
    """Write the replay's anomalies and events (extending the last event when close to it)."""
    scales = {v.version_id: v.rmse for v in state.versions}
    decided = replay_decisions(replay, detector, scales)
    ids = {"pipeline": pipeline.name, "series_id": state.series_id}
    anomalies = [
        row
        for d in decided
        for row in anomaly_payload(
            replay.span, d.decisions, ids=ids, model_version_id=d.model_id, run_id=run_id, now=now
        )
    ]
    upsert_anomalies(session=session, rows=anomalies)
    events: list[dict[str, Any]] = []
    new_events = 0
    decisions = joined(decided)
    if decisions is not None:
        grouping = grouping_of(pipeline.detection)
        events, new_events = event_payload(
            replay.span, decisions, state.last_event, grouping, ids=ids, run_id=run_id, now=now
        )
    upsert_events(session=session, rows=events)
    report.points_read = len(replay.span) - replay.first_new
    report.points_scored = int(np.isfinite(replay.predicted[replay.first_new :]).sum())
    report.anomalies = len(anomalies)
    report.events = new_events
    report.last_ts = replay.span.index[-1].to_pydatetime()
