"""Process one series' new points step by step: each step's rows commit with its watermark.

`forecaster backfill`, `forecaster evaluate` and the daemon's catch-ups run this loop; the
daemon's usual cycle (many series with a few new points each) runs the same step functions
over a whole claim at once (pipelines/daemon/claims.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.session import transaction
from forecaster.db.time_range import TimeRange
from forecaster.detection.decide import Detector
from pipelines.context import AppContext
from pipelines.detect.cache import CachingSource, SeriesMemory, remember
from pipelines.detect.rescore import rewind_corrected
from pipelines.detect.rows import StepRows, grouping_of, skipped_rows, step_rows
from pipelines.detect.sink import DatabaseSink, StepSink
from pipelines.detect.source import DatabaseSource, StepSource
from pipelines.detect.step import Scored, Skipped, Step, read_plan, read_step, score_step
from pipelines.detect.walk_forward import WalkForward


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

    @property
    def ok(self) -> bool:
        return self.error is None

    def add(self, scored: Scored, rows: StepRows) -> None:
        """Count a committed step."""
        step = scored.step
        self.points_read += step.bounds.stop - step.bounds.first_new
        self.last_ts = step.last_ts.to_pydatetime()
        self.models_trained += scored.models_trained
        if scored.model is not None:
            self.points_scored += scored.points_scored
        self.anomalies += len(rows.anomalies)
        self.events += rows.new_events

    def note(self, text: str) -> None:
        if not self.notes:
            self.notes.append(text)


ProgressCallback = Callable[[int, datetime | None], None]


def _committed_nothing(scored: Scored) -> None:
    """The default after-commit hook: the database is the only memory."""


def _database_sink(session: Session, now: datetime) -> StepSink:
    return DatabaseSink(session, now=now)


@dataclass(frozen=True)
class StepIO:
    """How a run reads and writes each step, in the transactions the run opens, and what it
    does once a step committed: the database by default; the daemon wraps the source in its
    cache and remembers each committed step."""

    source: Callable[[Session], StepSource]
    sink: Callable[[Session, datetime], StepSink] = _database_sink
    committed: Callable[[Scored], None] = _committed_nothing


def database_io(context: AppContext, pipeline: PipelineSettings) -> StepIO:
    """Read every step from the database and write its rows there."""
    series = context.source(pipeline.name)
    return StepIO(source=lambda session: DatabaseSource(session, pipeline.name, series))


def cached_io(
    context: AppContext, pipeline: PipelineSettings, memory: SeriesMemory | None = None
) -> StepIO:
    """`database_io` through a memory of each series' last step (detect/cache.py): each chunk
    after the first reads only its new points, since the chunk before it read its context and
    scored it. Without `memory`, a new one for this call: use one call per series (a backfill
    task); the daemon passes the memory it keeps between cycles."""
    memory = SeriesMemory() if memory is None else memory
    series = context.source(pipeline.name)
    return StepIO(
        source=lambda session: CachingSource(
            DatabaseSource(session, pipeline.name, series), memory
        ),
        committed=partial(remember, memory, pipeline.name),
    )


@dataclass(frozen=True)
class RunOptions:
    """What part of a series a run processes, and what it writes besides detections."""

    until: datetime | None = None  # process points up to this time only
    start: datetime | None = None  # points before this time count as processed
    run_id: int | None = None  # the pipeline_runs row the anomalies and events belong to
    forecast_ahead: bool = False  # the daemon: forecasts of the steps after the newest point


def process_series(
    context: AppContext,
    pipeline: PipelineSettings,
    name: str,
    options: RunOptions = RunOptions(),
    *,
    io: StepIO | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SeriesReport:
    """Process every point of `name` after its watermark (up to `options.until`), chunk by
    chunk. `should_stop` is asked before each chunk: a stopping daemon leaves after the chunk
    in hand, whose rows and watermark are committed together."""
    io = io or database_io(context, pipeline)
    detector = Detector.from_settings(pipeline.detection)
    models = WalkForward(context, pipeline)
    report = SeriesReport(series=name)
    started = time.perf_counter()
    for note in rewind_corrected(context, pipeline, [name]).values():
        report.note(note)
    while should_stop is None or not should_stop():
        with transaction(context.sessions) as session:
            step = _read(io.source(session), pipeline, detector, name, options)
        if step is None:
            break
        if isinstance(step, Skipped):
            report.note(step.waiting.note)
            _write(context, io, [skipped_rows(step)], context.clock())
            break
        scored = score_step(
            step, pipeline, models=models, detector=detector, forecast_ahead=options.forecast_ahead
        )
        now = context.clock()  # one time for all of the step's rows
        rows = step_rows(
            scored,
            pipeline=pipeline.name,
            run_id=options.run_id,
            grouping=grouping_of(pipeline.detection),
            now=now,
        )
        _write(context, io, [rows], now)
        io.committed(scored)
        report.add(scored, rows)
        if scored.model is None and step.bounds.note:
            report.note(step.bounds.note)
        if on_progress is not None:
            on_progress(step.bounds.stop - step.bounds.first_new, report.last_ts)
        if step.bounds.exhausted:
            break
    report.seconds = time.perf_counter() - started
    return report


def _read(
    source: StepSource,
    pipeline: PipelineSettings,
    detector: Detector,
    name: str,
    options: RunOptions,
) -> Step | Skipped | None:
    state = source.state(name)
    plan = read_plan(source, state, pipeline, detector, until=options.until, start=options.start)
    return read_step(source, state, plan, pipeline, until=options.until)


def _write(context: AppContext, io: StepIO, rows: list[StepRows], now: datetime) -> None:
    """Commit steps' rows together with their watermarks (nothing when there are none)."""
    if all(r.watermark is None and r.grid is None for r in rows):
        return
    with transaction(context.sessions) as session:
        io.sink(session, now).write(rows)


def pending_points(
    context: AppContext, pipeline: PipelineSettings, name: str, until: datetime | None
) -> int:
    """Raw points after the watermark (for progress bars)."""
    with transaction(context.sessions) as session:
        source = DatabaseSource(session, pipeline.name, context.source(pipeline.name))
        mark = source.state(name).watermark
        after = TimeRange.after(None if mark is None else mark.to_pydatetime(), until)
        return source.series.count(session, name, after)
