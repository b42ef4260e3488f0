"""Score one series' new points and write anomalies, events, predictions and the watermark.

The daemon and `forecaster backfill` share the steps: each takes the points after the watermark
(at most one chunk, never across a retraining cut-off), scores them with the model trained on
data up to that cut-off, and commits rows and watermark in one transaction. `process_series`
takes a series' steps one after another; `process_first_steps` (the daemon's usual cycle) takes
the next step of many series with one read and one write transaction for all of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from forecaster.config.model import ModelSettings
from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.anomalies import upsert_anomalies
from forecaster.db.repo.events import last_event, upsert_events
from forecaster.db.repo.forecasts import (
    ForecastRow,
    forecast_payload,
    read_one_step_predictions,
    upsert_forecast_rows,
)
from forecaster.db.repo.model_versions import list_model_versions, list_model_versions_of
from forecaster.db.repo.watermarks import (
    ensure_series_with_watermark,
    series_with_watermarks,
    set_watermarks,
    watermark_row,
)
from forecaster.db.session import transaction
from forecaster.db.time_range import TimeRange
from forecaster.detection.decide import Decisions, Detector
from forecaster.detection.events import OpenEvent, group_events
from forecaster.detection.severity import severity_of
from forecaster.errors import ForecasterError, ModelArtifactError, ModelNotFound, SeriesTooShort
from forecaster.model.features import seasonal_period
from forecaster.model.predict import (
    Forecast,
    NetworkState,
    one_step_predictions,
    predict_and_forecast,
)
from forecaster.series.regular import RegularSeries, regularize
from pipelines.context import AppContext
from pipelines.daemon.cache import Recent, SeriesMemory
from pipelines.jobs.train import load_series
from pipelines.model_runtime import ActiveModel

log = logging.getLogger(__name__)


@dataclass
class SeriesReport:
    """What processing one series did."""

    series: str
    points_read: int = 0
    points_scored: int = 0
    anomalies: int = 0
    events: int = 0
    models_trained: int = 0
    last_ts: datetime | None = None
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    # The last span processed (ending at the new watermark, with its scoring context), so the
    # daemon can forecast from it without reading it again.
    tail: RegularSeries | None = field(default=None, repr=False)
    forecast_written: bool = False  # fresh forecasts from the new watermark were stored
    more: bool = False  # points are left after the steps taken (see `process_first_steps`)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Step:
    """One chunk of new points: the span read and which positions are new."""

    series_id: int
    span: RegularSeries
    first_new: int
    stop: int  # positions first_new..stop-1 are processed in this step
    cutoff: int | None  # grid step of the training cut-off; None: warm-up (not scored)
    exhausted: bool  # the step reaches the last point read: nothing is left after it
    limit_step: int  # the last grid step the step's model scores
    raw: pd.Series  # the raw points read (the span's source)
    versions: list[WalkForwardVersion]  # the stored walk-forward models when the span was read
    recalled: Recent | None  # what the daemon remembered of the span before the watermark
    # One-step predictions stored for the span's already scored points (from `recalled` or the
    # database); None when no point before first_new is scored or none was needed.
    stored: pd.Series | None


@dataclass(frozen=True)
class _Scored:
    """A step's results, ready to be written: decisions and predictions by its model."""

    step: _Step
    last_ts: datetime
    active: ActiveModel | None  # None: warm-up (only the watermark moves)
    decisions: Decisions | None
    predicted: np.ndarray  # one-step predictions over the whole span (NaN where none)
    ahead: Forecast | None  # forecasts of the steps after the span, from the same pass
    network: NetworkState | None = None  # the network's state after the span's last point


@dataclass
class _Writes:
    """Forecast and watermark rows of one transaction, sent in one statement per table."""

    forecasts: list[dict[str, Any]] = field(default_factory=list)
    watermarks: list[dict[str, Any]] = field(default_factory=list)

    def flush(self, session: Any) -> None:
        upsert_forecast_rows(session=session, rows=self.forecasts)
        set_watermarks(session=session, rows=self.watermarks)


@dataclass
class _BatchReads:
    """What `_read_step` would query per series, read for a whole daemon batch at once."""

    rows: dict[str, tuple[Any, datetime | None]]  # existing series rows and watermarks
    versions: dict[int, list[WalkForwardVersion]]
    new_points: dict[str, tuple[TimeRange, pd.Series]]  # remembered series: points after mark


ProgressCallback = Callable[[int, datetime | None], None]


def process_series(
    context: AppContext,
    pipeline: PipelineSettings,
    name: str,
    *,
    until: datetime | None = None,
    start: datetime | None = None,
    run_id: int | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    memory: SeriesMemory | None = None,
    forecast: bool = False,
) -> SeriesReport:
    """Process every point of `name` after its watermark up to `until`, chunk by chunk.

    `should_stop` is asked before each chunk: a stopping daemon leaves after the chunk in
    hand, whose rows and watermark are committed together. With `memory` (the daemon's), the
    scoring context of the last cycle is reused and only new points are read. With `forecast`,
    the last chunk's transaction also stores the forecasts of the next `horizon` steps when the
    model that scored it also scores the next step (see `SeriesReport.forecast_written`).
    """
    report = SeriesReport(series=name)
    started = time.perf_counter()
    while should_stop is None or not should_stop():
        with transaction(context.sessions) as session:
            step = _read_step(session, context, pipeline, name, until=until, start=start,
                              report=report, memory=memory, batch=None)  # fmt: skip
        if step is None:
            break
        scored = _score_step(context, pipeline, name, step, report=report, memory=memory,
                             forecast=forecast)  # fmt: skip
        with transaction(context.sessions) as session:
            writes = _Writes()
            _write_step(session, pipeline, scored, run_id=run_id, report=report, writes=writes)
            writes.flush(session)
        _finish_step(pipeline, scored, report=report, memory=memory)
        if on_progress is not None:
            on_progress(step.stop - step.first_new, report.last_ts)
        if step.exhausted:
            break
    report.seconds = time.perf_counter() - started
    return report


def process_first_steps(
    context: AppContext,
    pipeline: PipelineSettings,
    names: list[str],
    *,
    run_id: int | None,
    memory: SeriesMemory | None,
    on_progress: Callable[[], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, SeriesReport]:
    """The next step of each series in `names`, as `process_series` takes it (with fresh
    forecasts), but with the reads of all series in one transaction and the writes of all in
    another: a daemon cycle is mostly many series with a few new points each, and per-series
    queries and commits dominated it.

    A report whose `more` is set has points left after its step (a catch-up): continue it with
    `process_series`. A series whose data or model fails gets its error in its report and
    writes nothing; the others go on. Series not reached because `should_stop` turned true
    are left out of the result (nothing of theirs is written).
    """
    reports = {name: SeriesReport(series=name) for name in names}
    steps: dict[str, _Step] = {}
    with transaction(context.sessions) as session:
        batch = _read_batch(session, context, pipeline, names, memory)
        for name in names:
            try:
                step = _read_step(session, context, pipeline, name, until=None, start=None,
                                  report=reports[name], memory=memory, batch=batch)  # fmt: skip
            except ForecasterError as exc:
                reports[name].error = str(exc)
                continue
            if step is not None:
                steps[name] = step
    scored: dict[str, _Scored] = {}
    for name, step in steps.items():
        if should_stop is not None and should_stop():
            for left in names[names.index(name) :]:
                if left in steps:
                    reports.pop(left)
            break
        try:
            scored[name] = _score_step(context, pipeline, name, step, report=reports[name],
                                       memory=memory, forecast=True)  # fmt: skip
        except ForecasterError as exc:
            reports[name].error = str(exc)
        if on_progress is not None:
            on_progress()
    with transaction(context.sessions) as session:
        writes = _Writes()
        for name, result in scored.items():
            _write_step(session, pipeline, result, run_id=run_id, report=reports[name],
                        writes=writes)  # fmt: skip
        writes.flush(session)
    for name, result in scored.items():
        _finish_step(pipeline, result, report=reports[name], memory=memory)
        reports[name].more = not result.step.exhausted
    return reports


def _read_batch(
    session: Any,
    context: AppContext,
    pipeline: PipelineSettings,
    names: list[str],
    memory: SeriesMemory | None,
) -> _BatchReads:
    """Series rows, watermarks and walk-forward models of `names`, and the new points of the
    series whose context the daemon remembers, in a few queries for all."""
    rows = series_with_watermarks(session=session, pipeline=pipeline.name, names=names)
    ids = [row.id for row, _ in rows.values()]
    versions = {
        series_id: _walk_forward(found)
        for series_id, found in list_model_versions_of(
            session=session, pipeline=pipeline.name, series_ids=ids
        ).items()
    }
    ranges: dict[str, TimeRange] = {}
    for name, (row, mark) in rows.items():
        frequency = pipeline.preprocess.frequency or row.frequency
        if memory is None or mark is None or frequency is None or not versions[row.id]:
            continue
        read_from, read_to = _context_bounds(pipeline, mark, frequency, until=None)
        if _remembered(pipeline, memory, row.id, mark, read_from) is not None:
            ranges[name] = TimeRange.after(mark, read_to)
    points = context.source(pipeline.name).read_many(session, ranges) if ranges else {}
    return _BatchReads(
        rows=rows,
        versions=versions,
        new_points={name: (ranges[name], points[name]) for name in ranges},
    )


def _remembered(
    pipeline: PipelineSettings,
    memory: SeriesMemory | None,
    series_id: int,
    mark: datetime,
    read_from: pd.Timestamp,
) -> Recent | None:
    """What the daemon remembers of a series at watermark `mark`, if it reaches back to
    `read_from` (then only the points after the watermark need reading)."""
    recalled = (
        None if memory is None else memory.recall(pipeline.name, series_id, pd.Timestamp(mark))
    )
    if recalled is None or not len(recalled.raw) or recalled.raw.index[0] > read_from:
        return None
    return recalled


def _context_bounds(
    pipeline: PipelineSettings, mark: datetime, frequency: str, until: datetime | None
) -> tuple[pd.Timestamp, datetime | None]:
    """Where a step after watermark `mark` starts reading (the scoring context before it) and
    where it stops (about one chunk past the watermark; None: up to `until`)."""
    reach = Detector.from_settings(pipeline.detection).context_points + network_reach(
        pipeline.model, frequency
    )
    offset = pd.tseries.frequencies.to_offset(frequency)
    read_from = pd.Timestamp(mark) - reach * offset
    # Read about one chunk past the watermark, not the whole rest of the series: a long
    # backfill or catch-up stays linear in time and bounded in memory.
    bound = pd.Timestamp(mark) + (pipeline.backfill_chunk + 2) * offset
    if until is None or bound < pd.Timestamp(until):
        return read_from, bound.to_pydatetime()
    return read_from, None


def pending_points(
    context: AppContext, pipeline: PipelineSettings, name: str, until: datetime | None
) -> int:
    """Raw points after the watermark (for progress bars)."""
    with transaction(context.sessions) as session:
        _, mark = ensure_series_with_watermark(session=session, pipeline=pipeline.name, name=name)
        raw = context.source(pipeline.name).read(session, name, TimeRange.after(mark, until))
    return len(raw)


def _read_step(
    session: Any,
    context: AppContext,
    pipeline: PipelineSettings,
    name: str,
    *,
    until: datetime | None,
    start: datetime | None,
    report: SeriesReport,
    memory: SeriesMemory | None,
    batch: _BatchReads | None,
) -> _Step | None:
    """Read the span the next chunk needs; None when there is nothing new. `batch`: what a
    daemon batch has read already for this series."""
    if batch is not None and name in batch.rows:
        row, mark = batch.rows[name]
    else:
        row, mark = ensure_series_with_watermark(session=session, pipeline=pipeline.name, name=name)
    if start is not None and (mark is None or mark < start):
        # Points before --start are skipped, as if processed.
        mark = pd.Timestamp(start).to_pydatetime() - pd.Timedelta(microseconds=1)
    if batch is not None and row.id in batch.versions:
        versions = batch.versions[row.id]
    else:
        versions = walk_forward_versions(session, pipeline.name, row.id)
    chain = _chain(versions)
    source = context.source(pipeline.name)
    frequency = pipeline.preprocess.frequency or row.frequency
    read_from: pd.Timestamp | None = None
    read_to: datetime | None = None
    complete_before: pd.Timestamp | None = None  # with more points after the read
    if mark is not None and chain and frequency is not None:
        read_from, read_to = _context_bounds(pipeline, mark, frequency, until)
    elif mark is None and frequency is not None:
        # The first step of a series: its first model's history and one chunk, not all.
        offset = pd.tseries.frequencies.to_offset(frequency)
        oldest = source.oldest(session, name)
        steps = pipeline.training.initial_points + pipeline.backfill_chunk + 2
        first = None if oldest is None else oldest + steps * offset
        if first is not None and (until is None or first < pd.Timestamp(until)):
            read_to = first.to_pydatetime()
    recalled = None
    if mark is not None and read_from is not None:
        recalled = _remembered(pipeline, memory, row.id, mark, read_from)
    if recalled is not None and read_from is not None:
        # The context is what the last cycle read; only points after the watermark are new.
        # (Points beyond the bound are left for the next cycle.)
        wanted = TimeRange.after(mark, read_to or until)
        prefetched = batch.new_points.get(name) if batch is not None else None
        if prefetched is not None and prefetched[0] == wanted:
            new_points = prefetched[1]
        else:
            new_points = source.read(session, name, wanted)
        times = recalled.raw.index
        kept = recalled.raw[(times >= read_from) & (times <= recalled.watermark)]
        raw = pd.concat([kept, new_points]) if len(new_points) else kept
    else:
        recalled = None
        raw = source.read(session, name, TimeRange(start=_py(read_from), end=read_to or until))
        newest = source.newest(session, name) if read_to is not None else None
        if newest is not None and read_to is not None and newest > pd.Timestamp(read_to):
            # Only grid steps that end inside the read are complete (later raw points could
            # still fall into the last one).
            assert frequency is not None
            offset = pd.tseries.frequencies.to_offset(frequency)
            complete_before = pd.Timestamp(read_to) - offset
            new = raw.index if mark is None else raw.index[raw.index > pd.Timestamp(mark)]
            # Too little inside the bound (a gap longer than it after the watermark, or gaps
            # in the first model's history): read on to the end.
            short = len(new) == 0 or (
                not chain and (new <= complete_before).sum() < pipeline.training.initial_points
            )
            if short:
                raw = source.read(session, name, TimeRange(start=_py(read_from), end=until))
                complete_before = None
    if raw.empty:
        return None
    span = regularize(raw.rename(name), frequency, pipeline.preprocess.max_gap_fill)
    if row.frequency is None:
        row.frequency = span.frequency  # remember it: later reads need no inference
    mark_ts = pd.Timestamp(mark) if mark is not None else None
    first_new = 0 if mark_ts is None else int(span.index.searchsorted(mark_ts, side="right"))
    if first_new >= len(span):
        return None
    if not chain:
        if read_from is not None or len(span) < pipeline.training.initial_points:
            if not report.notes:
                report.notes.append(
                    f"waiting for history: {len(span)} of {pipeline.training.initial_points} "
                    "points needed before the first model"
                )
            return None
        initial = int(span.steps[pipeline.training.initial_points - 1])
    else:
        initial = chain[0]
    first_step = int(span.steps[first_new])
    cutoff, limit_step = cutoff_for(first_step, initial, pipeline.training.retrain_every, chain)
    # One chunk at most, and never across a cut-off: one model per transaction.
    stop = min(
        len(span),
        first_new + pipeline.backfill_chunk,
        int(np.searchsorted(span.steps, limit_step, side="right")),
    )
    if complete_before is not None:
        complete = int(span.index.searchsorted(complete_before, side="right"))
        stop = max(min(stop, complete), first_new + 1)
    stored = None
    if first_new > 0 and cutoff is not None:
        # Errors of already scored points come from the predictions stored when they were
        # scored, by the model current then: the same inputs a full replay would have.
        if recalled is not None:
            stored = recalled.predictions
        else:
            stored = read_one_step_predictions(
                session=session,
                pipeline=pipeline.name,
                series_id=row.id,
                time_range=TimeRange(
                    start=span.index[0].to_pydatetime(),
                    end=span.index[first_new - 1].to_pydatetime(),
                ),
            )
    report.points_read += stop - first_new
    return _Step(
        series_id=row.id,
        span=span.head(stop),
        first_new=first_new,
        stop=stop,
        cutoff=cutoff,
        exhausted=stop == len(span) and complete_before is None,
        limit_step=limit_step,
        raw=raw,
        versions=versions,
        recalled=recalled,
        stored=stored,
    )


def _py(ts: pd.Timestamp | None) -> datetime | None:
    return None if ts is None else ts.to_pydatetime()


def network_reach(model: ModelSettings, frequency: str) -> int:
    """Points before a prediction that its network pass reads: the warm-up window and chunk,
    the seasonal lags of those inputs, and a little slack for gaps in the grid."""
    season = seasonal_period(model.seasonality, frequency) or 0
    return model.window + model.scoring_chunk + season + 8


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


@dataclass(frozen=True)
class SeriesState:
    """Where a pipeline stands with a series: its row id, watermark, model cut-offs and grid."""

    series_id: int
    watermark: datetime | None
    chain: list[int]  # training cut-offs (grid steps), ascending; empty before the first model
    frequency: str | None

    @property
    def scored(self) -> bool:
        """Whether a model has scored points of the series (so a tail can be forecast from)."""
        return self.watermark is not None and bool(self.chain) and self.frequency is not None


def series_state(session: Any, pipeline: PipelineSettings, name: str) -> SeriesState:
    """The pipeline's state of a series (creating the series row if the source is external)."""
    row, mark = ensure_series_with_watermark(session=session, pipeline=pipeline.name, name=name)
    return SeriesState(
        series_id=row.id,
        watermark=mark,
        chain=cutoff_chain(session, pipeline.name, row.id),
        frequency=pipeline.preprocess.frequency or row.frequency,
    )


@dataclass(frozen=True)
class WalkForwardVersion:
    """A stored walk-forward model: its version number, model_versions id and cut-off."""

    version: int
    version_id: int
    cutoff: int


def walk_forward_versions(session: Any, pipeline: str, series_id: int) -> list[WalkForwardVersion]:
    """The pipeline's walk-forward models of a series (those with a cut-off), oldest first."""
    return _walk_forward(
        list_model_versions(session=session, pipeline=pipeline, series_id=series_id)
    )


def _walk_forward(rows: list[Any]) -> list[WalkForwardVersion]:
    """The walk-forward versions among model_versions rows (oldest first)."""
    return [
        WalkForwardVersion(version=v.version, version_id=v.id, cutoff=int(v.metrics["cutoff_step"]))
        for v in rows
        if isinstance(v.metrics, dict) and "cutoff_step" in v.metrics
    ]


def cutoff_chain(session: Any, pipeline: str, series_id: int) -> list[int]:
    """Training cut-offs (grid steps) of the pipeline's walk-forward models, ascending."""
    return _chain(walk_forward_versions(session, pipeline, series_id))


def _chain(versions: list[WalkForwardVersion]) -> list[int]:
    return sorted({v.cutoff for v in versions})


def _score_step(
    context: AppContext,
    pipeline: PipelineSettings,
    name: str,
    step: _Step,
    *,
    report: SeriesReport,
    memory: SeriesMemory | None,
    forecast: bool = False,
) -> _Scored:
    """Predict and decide a step's new points with the model of its cut-off (trained now if
    it is not stored). With `forecast`, the forecasts after the span come from the same pass
    when the same model will score the next step."""
    span, first_new = step.span, step.first_new
    last_ts = span.index[step.stop - 1].to_pydatetime()
    if memory is not None:
        memory.forget(pipeline.name, step.series_id)  # stale whatever happens below
    predicted = np.full(len(span), np.nan)
    if step.cutoff is None:  # warm-up: nothing to score yet
        return _Scored(step, last_ts, active=None, decisions=None, predicted=predicted, ahead=None)
    active = model_for_cutoff(
        context, pipeline, name, step.series_id, cutoff=step.cutoff, versions=step.versions
    )
    report.models_trained += int(active.trained_now)
    new_positions = np.arange(first_new, step.stop)
    ahead = network = None
    if forecast and step.exhausted and int(span.steps[-1]) + 1 <= step.limit_step:
        recalled = step.recalled
        resume = None
        if recalled is not None and recalled.network_version == active.version_id:
            resume = recalled.network  # go on from the last cycle's state: one step, not ~100
        predicted[first_new:], ahead, network = predict_and_forecast(
            active.model, span, new_positions, resume=resume
        )
    else:
        predicted[first_new:] = one_step_predictions(active.model, span, new_positions)
    if step.stored is not None:
        where = span.index[:first_new].get_indexer(pd.DatetimeIndex(step.stored.index))
        ok = where >= 0
        predicted[where[ok]] = step.stored.to_numpy()[ok]
    decisions = Detector.from_settings(pipeline.detection).decide(
        span.values,
        span.observed,
        predicted,
        span.steps,
        first_new,
        reference_scale=_reference_scale(active),
    )
    return _Scored(step, last_ts, active, decisions, predicted, ahead, network)


def _write_step(
    session: Any,
    pipeline: PipelineSettings,
    scored: _Scored,
    *,
    run_id: int | None,
    report: SeriesReport,
    writes: _Writes,
) -> None:
    """A step's anomalies and events (now), its forecasts and watermark (into `writes`)."""
    step, active = scored.step, scored.active
    if active is not None and scored.decisions is not None:
        _write(session, pipeline, step, active, scored.decisions, run_id=run_id, report=report,
               writes=writes)  # fmt: skip
        if scored.ahead is not None:
            writes.forecasts += forecast_payload(
                pipeline=pipeline.name, series_id=step.series_id,
                model_version_id=active.version_id, rows=forecast_rows(scored.ahead),
            )  # fmt: skip
    writes.watermarks.append(watermark_row(pipeline.name, step.series_id, scored.last_ts))


def _finish_step(
    pipeline: PipelineSettings,
    scored: _Scored,
    *,
    report: SeriesReport,
    memory: SeriesMemory | None,
) -> None:
    """After a step's rows are committed: count them and remember the daemon's context."""
    step, span, predicted = scored.step, scored.step.span, scored.predicted
    report.last_ts = scored.last_ts
    if scored.active is None:
        return
    report.points_scored += int(np.isfinite(predicted[step.first_new :]).sum())
    report.tail = span
    report.forecast_written = scored.ahead is not None
    if memory is not None and step.exhausted:
        known = np.isfinite(predicted) & span.observed
        memory.remember(
            pipeline.name,
            step.series_id,
            Recent(
                watermark=pd.Timestamp(scored.last_ts),
                raw=step.raw,
                predictions=pd.Series(predicted[known], index=span.index[known]),
                network=scored.network,
                network_version=scored.active.version_id,
            ),
        )


def forecast_rows(forecast: Forecast) -> list[ForecastRow]:
    """The `forecasts` rows of a forecast: steps 1..horizon after its issue time."""
    return [
        ForecastRow(
            issued_at=forecast.issued_at.to_pydatetime(),
            ts=ts.to_pydatetime(),
            step=step,
            predicted=float(p),
            lower=float(lo),
            upper=float(hi),
        )
        for step, (ts, p, lo, hi) in enumerate(
            zip(forecast.index, forecast.predicted, forecast.lower, forecast.upper, strict=True),
            start=1,
        )
    ]


def _reference_scale(active: ActiveModel) -> float | None:
    rmse = active.model.metrics.get("rmse")
    return float(rmse) if isinstance(rmse, int | float) and np.isfinite(rmse) and rmse > 0 else None


def _write(
    session: Any,
    pipeline: PipelineSettings,
    step: _Step,
    active: ActiveModel,
    decisions: Decisions,
    *,
    run_id: int | None,
    report: SeriesReport,
    writes: _Writes,
) -> None:
    span = step.span
    positions = decisions.positions
    ok = np.isfinite(decisions.predicted) & span.observed[positions]
    band_low, band_high = (float(b) for b in active.model.band[0])
    # Whole columns converted at once: per-row Timestamp conversions dominated a backfill.
    scored = positions[ok]
    values = decisions.predicted[ok].astype(float)
    forecasts = [
        ForecastRow(issued_at=i, ts=t, step=1, predicted=v, lower=lo, upper=hi)
        for i, t, v, lo, hi in zip(
            span.index[scored - 1].to_pydatetime(),
            span.index[scored].to_pydatetime(),
            values.tolist(),
            (values + band_low).tolist(),
            (values + band_high).tolist(),
            strict=True,
        )
    ]
    writes.forecasts += forecast_payload(
        pipeline=pipeline.name,
        series_id=step.series_id,
        model_version_id=active.version_id,
        rows=forecasts,
    )
    flagged = np.flatnonzero(decisions.anomalous)
    rows = [
        {
            "pipeline": pipeline.name,
            "series_id": step.series_id,
            "ts": span.index[positions[k]].to_pydatetime(),
            "observed": float(span.values[positions[k]]),
            "predicted": float(decisions.predicted[k]),
            "residual": float(decisions.residual[k]),
            "threshold": float(decisions.threshold[k]),
            "score": float(decisions.score[k]),
            "severity": severity_of(float(decisions.score[k])),
            "direction": str(decisions.direction[k]),
            "model_version_id": active.version_id,
            "run_id": run_id,
        }
        for k in flagged
    ]
    report.anomalies += upsert_anomalies(session=session, rows=rows)
    if not len(flagged):
        return
    previous = last_event(session=session, pipeline=pipeline.name, series_id=step.series_id)
    open_event = None
    if previous is not None:
        end = pd.Timestamp(previous.end_ts)
        where = span.index.get_indexer(pd.DatetimeIndex([end]))[0]
        open_event = OpenEvent(
            start_ts=pd.Timestamp(previous.start_ts),
            end_ts=end,
            end_step=int(span.steps[where]) if where >= 0 else None,
            peak_ts=pd.Timestamp(previous.peak_ts),
            peak_score=previous.peak_score,
            n_points=previous.n_points,
            direction=previous.direction,
        )
    drafts = group_events(
        span.index[positions[flagged]],
        span.steps[positions[flagged]],
        decisions.score[flagged],
        decisions.direction[flagged],
        merge_gap=pipeline.detection.merge_gap,
        open_event=open_event,
    )
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    event_rows = [
        {
            "pipeline": pipeline.name,
            "series_id": step.series_id,
            "start_ts": d.start_ts.to_pydatetime(),
            "end_ts": d.end_ts.to_pydatetime(),
            "peak_ts": d.peak_ts.to_pydatetime(),
            "peak_score": d.peak_score,
            "n_points": d.n_points,
            "direction": d.direction,
            "severity": d.severity,
            "run_id": run_id,
            "updated_at": now,
        }
        for d in drafts
    ]
    written = upsert_events(session=session, rows=event_rows)
    extended = open_event is not None and drafts[0].start_ts == open_event.start_ts
    report.events += written - (1 if extended else 0)


def model_for_cutoff(
    context: AppContext,
    pipeline: PipelineSettings,
    name: str,
    series_id: int,
    *,
    cutoff: int,
    versions: list[WalkForwardVersion] | None = None,
) -> ActiveModel:
    """The walk-forward model of a cut-off: stored, or trained now on data up to it.
    `versions` are the stored walk-forward models if the caller has just read them."""
    if versions is None:
        with transaction(context.sessions) as session:
            versions = walk_forward_versions(session, pipeline.name, series_id)
    for row in reversed([v for v in versions if v.cutoff == cutoff]):
        try:
            stored = context.models.load_version(pipeline.name, name, row.version)
        except (ModelArtifactError, ModelNotFound) as exc:
            log.warning("%s; retraining", exc)
            continue
        if stored.model.settings == pipeline.model:
            return ActiveModel(
                model=stored.model, version=row.version, version_id=row.version_id, path=stored.path
            )
    return train_at_cutoff(
        context, pipeline, name, series_id, cutoff, reason=f"walk-forward cut-off at step {cutoff}"
    )


def train_at_cutoff(
    context: AppContext,
    pipeline: PipelineSettings,
    name: str,
    series_id: int,
    cutoff: int,
    *,
    reason: str,
) -> ActiveModel:
    """Train and store the model of a cut-off on the series' points up to that grid step."""
    return context.models.train_and_store(
        context.sessions,
        pipeline=pipeline.name,
        series=name,
        series_id=series_id,
        data=_training_data(context, pipeline, name, cutoff),
        settings=pipeline.model,
        reason=reason,
        extra_metrics={"cutoff_step": cutoff, "reason": reason},
    )


def _training_data(
    context: AppContext, pipeline: PipelineSettings, name: str, cutoff: int
) -> RegularSeries:
    """Regular points with grid step <= cutoff, ending on a real observation (no fill that
    would depend on a later point), whatever the span read."""
    with transaction(context.sessions) as session:
        full = load_series(context, session, pipeline, name).data
    stop = int(np.searchsorted(full.steps, cutoff, side="right"))
    while stop > 0 and not full.observed[stop - 1]:
        stop -= 1
    if stop == 0:
        raise SeriesTooShort(f"series {name!r} has no points before its first training cut-off")
    return full.head(stop)
