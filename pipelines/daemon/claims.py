"""A daemon claim: the next step of many series, read in one transaction and written in another.

The same step functions as a backfill's (pipelines/detect/step.py), around the caching source
and with the whole claim's rows sent in one statement per table: per-series queries and
commits dominated a cycle of many series with a few new points each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.session import transaction
from forecaster.detection.decide import Detector
from forecaster.errors import ForecasterError
from pipelines.context import AppContext
from pipelines.detect.cache import CachingSource, SeriesMemory, remember
from pipelines.detect.rescore import rewind_corrected
from pipelines.detect.rows import grouping_of, skipped_rows, step_rows
from pipelines.detect.run import SeriesReport
from pipelines.detect.sink import SinkFactory, database_sink
from pipelines.detect.source import DatabaseSource
from pipelines.detect.step import Scored, Skipped, Step, read_plan, read_step, score_step
from pipelines.detect.walk_forward import WalkForward

log = logging.getLogger(__name__)


@dataclass
class ClaimedSeries:
    """One series of a claim: its report and whether points are left after its step."""

    report: SeriesReport
    more: bool = False  # a catch-up: continue it step by step


def process_claim(
    context: AppContext,
    pipeline: PipelineSettings,
    names: Sequence[str],
    *,
    memory: SeriesMemory,
    run_id: int | None,
    on_progress: Callable[[], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    sink: SinkFactory = database_sink,
) -> dict[str, ClaimedSeries]:
    """The next step of each series in `names`, with fresh forecasts after the newest point.

    A series whose data or model fails gets its error in its report and writes nothing; the
    others go on. Series not reached because `should_stop` turned true are left out of the
    result (nothing of theirs is written). `sink` stores the claim's rows.
    """
    detector = Detector.from_settings(pipeline.detection)
    claimed = {name: ClaimedSeries(SeriesReport(series=name)) for name in names}
    for name, note in rewind_corrected(context, pipeline, names).items():
        claimed[name].report.note(note)
    steps, skipped = _read_claim(context, pipeline, detector, names, memory, claimed)
    models = WalkForward(context, pipeline)
    scored: dict[str, Scored] = {}
    order = list(steps)
    for k, name in enumerate(order):
        if should_stop is not None and should_stop():
            for left in order[k:]:
                claimed.pop(left)
            break
        try:
            scored[name] = score_step(
                steps[name], pipeline, models=models, detector=detector, forecast_ahead=True
            )
        except ForecasterError as exc:
            claimed[name].report.error = str(exc)
            memory.forget(pipeline.name, steps[name].state.series_id)
        if on_progress is not None:
            on_progress()
    _write_claim(context, pipeline, run_id, scored, skipped, claimed, memory, sink)
    return claimed


def _read_claim(
    context: AppContext,
    pipeline: PipelineSettings,
    detector: Detector,
    names: Sequence[str],
    memory: SeriesMemory,
    claimed: dict[str, ClaimedSeries],
) -> tuple[dict[str, Step], list[Skipped]]:
    """Every series' next step, read in one transaction (a failing series reports its error),
    and the series still waiting for history."""
    steps: dict[str, Step] = {}
    skipped: list[Skipped] = []
    with transaction(context.sessions) as session:
        inner = DatabaseSource(session, pipeline.name, context.source(pipeline.name))
        source = CachingSource(inner, memory)
        source.prefetch_states(names)
        plans = {}
        for name in names:
            try:
                plans[name] = read_plan(source, source.state(name), pipeline, detector)
            except ForecasterError as exc:
                claimed[name].report.error = str(exc)
        source.prefetch_points(plans)
        for name, plan in plans.items():
            try:
                step = read_step(source, source.state(name), plan, pipeline)
            except ForecasterError as exc:
                claimed[name].report.error = str(exc)
                continue
            if isinstance(step, Skipped):
                claimed[name].report.note(step.waiting.note)
                skipped.append(step)
            elif step is not None:
                steps[name] = step
    return steps, skipped


def _write_claim(
    context: AppContext,
    pipeline: PipelineSettings,
    run_id: int | None,
    scored: dict[str, Scored],
    skipped: list[Skipped],
    claimed: dict[str, ClaimedSeries],
    memory: SeriesMemory,
    sink: SinkFactory,
) -> None:
    """The claim's rows in one transaction, then each series' counts and memory."""
    now = context.clock()
    rows = {
        name: step_rows(
            result,
            pipeline=pipeline.name,
            run_id=run_id,
            grouping=grouping_of(pipeline.detection),
            now=now,
        )
        for name, result in scored.items()
    }
    with transaction(context.sessions) as session:
        sink(session, now).write([*rows.values(), *map(skipped_rows, skipped)])
    for name, result in scored.items():
        remember(memory, pipeline.name, result)
        claimed[name].report.add(result, rows[name])
        claimed[name].more = not result.step.bounds.exhausted
