"""A sink around the database sink that also queues notifications of the events it writes, in
the same transaction: an event and its notification commit together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from pandas.tseries.offsets import BaseOffset
from sqlalchemy.orm import Session

from forecaster.config.notify import NotifySettings
from forecaster.config.settings import Settings
from forecaster.db.repo.outbox import enqueue, events_named, notified_open
from forecaster.db.tables import AnomalyEvent
from forecaster.series.grid import parse_frequency
from pipelines.detect.rows import StepRows, grouping_of
from pipelines.detect.sink import SinkFactory, StepSink
from pipelines.notify.payloads import Kind, Notice, body, idempotency_key


def notice_of(event: AnomalyEvent, series: str) -> Notice:
    """What a notification tells of a stored event."""
    return Notice(
        event_id=event.id,
        pipeline=event.pipeline,
        series=series,
        start=event.start_ts,
        end=event.end_ts,
        peak_ts=event.peak_ts,
        peak_score=event.peak_score,
        severity=event.severity,
        direction=event.direction,
        n_points=event.n_points,
    )


def cannot_grow(
    *,
    start: datetime,
    end: datetime,
    watermark: datetime,
    step: BaseOffset,
    merge_gap: int,
    refractory: int,
) -> bool:
    """Whether a point after `watermark` (one grid `step` or more later) can no longer join an
    event spanning start..end: it is beyond the merge gap and the refractory reach."""
    after_gap = pd.Timestamp(end) + step * (merge_gap + 1) <= pd.Timestamp(watermark)
    after_refractory = pd.Timestamp(start) + step * refractory <= pd.Timestamp(watermark)
    return bool(after_gap and after_refractory)


class OutboxSink:
    """Writes through `inner`, then queues each sink's notification of every written event
    the filters admit (once per event: the idempotency key ignores a repeat, so an event
    extended by a later step is not notified again) and, with `on_close`, of every notified
    event that can no longer grow."""

    def __init__(self, inner: StepSink, session: Session, *, settings: Settings, now: datetime):
        self.inner = inner
        self.session = session
        self.settings = settings
        self.notify: NotifySettings = settings.notify
        self.now = now

    def write(self, rows: Sequence[StepRows]) -> None:
        self.inner.write(rows)
        queued: list[dict[str, Any]] = []
        for pipeline in sorted({str(e["pipeline"]) for r in rows for e in r.events}):
            queued += self._opened(pipeline, rows)
        if self.notify.on_close:
            for pipeline in sorted({str(r.watermark["pipeline"]) for r in rows if r.watermark}):
                queued += self._closed(pipeline, rows)
        enqueue(session=self.session, rows=queued)

    def _opened(self, pipeline: str, rows: Sequence[StepRows]) -> list[dict[str, Any]]:
        keys = [
            (int(e["series_id"]), e["start_ts"])
            for r in rows
            for e in r.events
            if e["pipeline"] == pipeline
        ]
        queued = []
        for event, series in events_named(session=self.session, pipeline=pipeline, keys=keys):
            if self.notify.filters.admits(
                pipeline=pipeline, severity=event.severity, peak_score=event.peak_score
            ):
                notice = notice_of(event, series.name)
                queued += [self._row(notice, "open", s.name, s.type) for s in self.notify.sinks]
        return queued

    def _closed(self, pipeline: str, rows: Sequence[StepRows]) -> list[dict[str, Any]]:
        marks = {
            int(r.watermark["series_id"]): r.watermark["last_ts"]
            for r in rows
            if r.watermark and r.watermark["pipeline"] == pipeline
        }
        settings = self.settings.pipeline(pipeline)
        grouping = grouping_of(settings.detection)
        queued = []
        found = notified_open(session=self.session, pipeline=pipeline, series_ids=list(marks))
        for event, series, sink_name in found:
            sink = self.notify.sink(sink_name)
            frequency = settings.preprocess.frequency or series.frequency
            if sink is None or frequency is None:
                continue  # a sink no longer configured; a series without a grid yet
            if cannot_grow(
                start=event.start_ts,
                end=event.end_ts,
                watermark=marks[series.id],
                step=parse_frequency(frequency, series.name),
                merge_gap=grouping.merge_gap,
                refractory=grouping.refractory,
            ):
                queued.append(
                    self._row(notice_of(event, series.name), "close", sink.name, sink.type)
                )
        return queued

    def _row(self, notice: Notice, kind: Kind, sink: str, sink_type: str) -> dict[str, Any]:
        key = idempotency_key(notice.event_id, kind, sink)
        return {
            "event_id": notice.event_id,
            "kind": kind,
            "sink": sink,
            "payload": body(sink_type, notice, kind, key),
            "idempotency_key": key,
            "created_at": self.now,
            "next_attempt_at": self.now,
        }


def with_outbox(settings: Settings, inner: SinkFactory) -> SinkFactory:
    """`inner`'s sinks wrapped to queue notifications (as they are when nothing is notified)."""
    if not settings.notify.enabled:
        return inner

    def factory(session: Session, now: datetime) -> StepSink:
        return OutboxSink(inner(session, now), session, settings=settings, now=now)

    return factory
