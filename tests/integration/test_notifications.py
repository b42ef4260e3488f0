"""Notifications on real databases and a real local HTTP receiver: queued in the events'
transaction, one per event, delivered after a refusal, a timeout and a 503 exactly once, with
every attempt counted; a restarted sender resends only what was not acknowledged."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from forecaster.config.notify import NotifySettings
from forecaster.db.repo.outbox import claim_due, outbox_counts
from forecaster.db.repo.rescoring import clear_detections
from forecaster.db.repo.series import ensure_series_ids
from forecaster.db.repo.watermarks import watermark_row
from forecaster.db.session import transaction
from forecaster.db.tables import NotificationOutbox, Series
from pipelines.context import AppContext
from pipelines.daemon.cycles import CycleReport
from pipelines.detect.rows import StepRows
from pipelines.detect.sink import DatabaseSink
from pipelines.notify.companion import NotifyCompanion
from pipelines.notify.outbox_sink import OutboxSink
from pipelines.notify.sender import Sender
from tests.helpers.daemon import wait_for
from tests.helpers.http import free_port
from tests.helpers.pipelines import migrated
from tests.helpers.receiver import Receiver

T0 = datetime(2024, 5, 11, 10, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)


@dataclass
class Clock:
    """A clock the test moves (the sender's backoff is measured on it)."""

    now: datetime = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def notify_settings(url: str, **overrides: Any) -> NotifySettings:
    sinks = [{"name": "ops", "url": url, "timeout_seconds": 0.5}]
    retry = {"first_delay_seconds": 1, "max_delay_seconds": 4}
    return NotifySettings.model_validate({"sinks": sinks, "retry": retry, **overrides})


@pytest.fixture
def context(db_url: str, tmp_path: Path) -> Iterator[AppContext]:
    context = migrated(db_url, tmp_path / "work")
    with transaction(context.sessions) as session:
        ids = ensure_series_ids(session=session, names=["s"])
        assert ids["s"] == 1  # the events below are series 1's
        session.execute(update(Series).where(Series.id == ids["s"]).values(frequency="15min"))
    yield context
    context.close()


def with_notify(context: AppContext, notify: NotifySettings) -> AppContext:
    context.settings = context.settings.model_copy(update={"notify": notify})
    return context


def event(start: int, end: int, score: float = 0.999, severity: str = "critical") -> dict[str, Any]:
    """An `anomaly_events` row of series 1 from grid step `start` to `end` after T0."""
    return {
        "pipeline": "default",
        "series_id": 1,
        "start_ts": T0 + start * STEP,
        "end_ts": T0 + end * STEP,
        "peak_ts": T0 + start * STEP,
        "peak_score": score,
        "n_points": end - start + 1,
        "direction": "up",
        "severity": severity,
        "run_id": None,
        "created_at": T0,
        "updated_at": T0,
    }


def step(*events: dict[str, Any], watermark: int, new: int | None = None) -> StepRows:
    mark = watermark_row("default", 1, T0 + watermark * STEP, now=T0)
    count = len(events) if new is None else new
    return StepRows(1, events=list(events), new_events=count, watermark=mark)


def write(context: AppContext, *rows: StepRows) -> None:
    with transaction(context.sessions) as session:
        sink = OutboxSink(DatabaseSink(session, now=T0), session, settings=context.settings, now=T0)
        sink.write(rows)


def outbox(context: AppContext) -> list[NotificationOutbox]:
    with transaction(context.sessions) as session:
        rows = list(session.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id)))
        session.expunge_all()
        return rows


def test_refused_then_timing_out_then_failing_then_delivered_exactly_once(
    context: AppContext,
) -> None:
    port = free_port()  # nothing listens: connections are refused
    with_notify(context, notify_settings(f"http://127.0.0.1:{port}/hook"))
    write(context, step(event(0, 2), watermark=3))
    clock = Clock()
    sender = Sender(context.sessions, context.settings.notify, clock=clock)

    assert sender.deliver_due().failed == 1
    [row] = outbox(context)
    assert row.attempts == 1 and row.delivered_at is None
    assert "refused" in (row.last_error or "").lower()
    assert row.next_attempt_at == clock.now + timedelta(seconds=1)
    assert sender.deliver_due().failed == 0  # not due before its backoff

    with Receiver(port, mode="slow", slow_seconds=1.5) as receiver:
        clock.advance(1)
        assert sender.deliver_due().failed == 1  # no answer within the 0.5 s timeout
        [row] = outbox(context)
        assert row.attempts == 2 and "no answer within 0.5 s" in (row.last_error or "")
        assert row.next_attempt_at == clock.now + timedelta(seconds=2)  # doubled

        receiver.mode = "fail"
        clock.advance(2)
        assert sender.deliver_due().failed == 1
        [row] = outbox(context)
        assert row.attempts == 3 and "HTTP 503" in (row.last_error or "")

        receiver.mode = "ok"
        clock.advance(4)
        assert sender.deliver_due().delivered == 1
        clock.advance(60)
        assert sender.deliver_due().delivered == 0  # acknowledged: never sent again
        assert receiver.keys() == [row.idempotency_key]
        sent = receiver.received[0]
    [row] = outbox(context)
    assert row.attempts == 4 and row.delivered_at == clock.now - timedelta(seconds=60)
    assert row.last_error is None and row.idempotency_key == f"{row.event_id}:open:ops"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body["series"] == "s" and sent.body["severity"] == "critical"
    assert sent.body["start"] == "2024-05-11T10:00:00Z" and sent.body["end"] is None


def test_outbox_rows_commit_with_the_events_or_not_at_all(context: AppContext) -> None:
    with_notify(context, notify_settings("http://127.0.0.1:9/hook"))
    with pytest.raises(RuntimeError), transaction(context.sessions) as session:
        sink = OutboxSink(DatabaseSink(session, now=T0), session, settings=context.settings, now=T0)
        sink.write([step(event(0, 2), watermark=3)])
        assert len(session.scalars(select(NotificationOutbox)).all()) == 1  # queued inside
        raise RuntimeError("the transaction fails after the rows were written")
    with context.engine.connect() as connection:
        events = connection.execute(text("SELECT count(*) FROM anomaly_events")).scalar()
    assert events == 0 and outbox(context) == []
    write(context, step(event(0, 2), watermark=3))
    assert len(outbox(context)) == 1


def test_an_event_extended_by_later_steps_is_notified_once(context: AppContext) -> None:
    notify = notify_settings("http://127.0.0.1:9/a")
    two_sinks = [*notify.sinks, notify.sinks[0].model_copy(update={"name": "chat"})]
    with_notify(context, notify.model_copy(update={"sinks": two_sinks}))
    write(context, step(event(0, 2), watermark=3))
    write(context, step(event(0, 4), watermark=5, new=0))  # the same event grows
    write(context, step(event(0, 6), event(120, 121), watermark=130, new=1))
    rows = outbox(context)
    keys = sorted(r.idempotency_key for r in rows)
    first, second = sorted({r.event_id for r in rows if r.event_id is not None})
    assert keys == sorted(f"{e}:open:{s}" for e in (first, second) for s in ("ops", "chat"))
    assert all(r.kind == "open" for r in rows)


def test_filters_and_an_event_that_grows_past_them(context: AppContext) -> None:
    filters = {"min_severity": "high", "pipelines": ["default"]}
    with_notify(context, notify_settings("http://127.0.0.1:9/a", filters=filters))
    write(context, step(event(0, 1, score=0.95, severity="medium"), watermark=2))
    assert outbox(context) == []  # below the minimum severity
    # The event grows to critical: it is notified now, once.
    write(context, step(event(0, 3, score=0.999, severity="critical"), watermark=4, new=0))
    write(context, step(event(0, 5, score=0.999, severity="critical"), watermark=6, new=0))
    assert [r.kind for r in outbox(context)] == ["open"]
    with_notify(context, notify_settings("http://127.0.0.1:9/a", filters={"pipelines": ["x"]}))
    write(context, step(event(200, 201), watermark=202))
    assert len(outbox(context)) == 1  # another pipeline's events only


def test_on_close_notifies_once_the_event_can_no_longer_grow(context: AppContext) -> None:
    with_notify(context, notify_settings("http://127.0.0.1:9/a", on_close=True))
    merge_gap = context.settings.pipeline(None).detection.merge_gap
    refractory = context.settings.pipeline(None).detection.refractory
    write(context, step(event(0, 2), watermark=3))
    write(context, step(watermark=2 + merge_gap))  # a point at the next step still joins
    write(context, step(watermark=refractory - 1))  # within the refractory reach
    assert [r.kind for r in outbox(context)] == ["open"]
    write(context, step(watermark=refractory))
    write(context, step(watermark=refractory + 50))
    rows = outbox(context)
    assert [r.kind for r in rows] == ["open", "close"]
    assert rows[1].idempotency_key == f"{rows[0].event_id}:close:ops"
    assert '"end": "2024-05-11T10:30:00Z"' in rows[1].payload


def test_a_restarted_sender_resends_only_what_was_not_acknowledged(context: AppContext) -> None:
    with Receiver() as receiver:
        with_notify(context, notify_settings(receiver.url))
        clock = Clock()
        write(context, step(event(0, 2), watermark=3))
        assert (
            Sender(context.sessions, context.settings.notify, clock=clock).deliver_due().delivered
        )
        write(context, step(event(0, 2), event(200, 202), watermark=203, new=1))
        # A sender claimed the second and died mid-POST: after the hold, another sends it.
        with transaction(context.sessions) as session:
            hold = timedelta(seconds=30)
            assert claim_due(session=session, sinks=["ops"], now=clock(), hold=hold)
        restarted = Sender(context.sessions, context.settings.notify, clock=clock)
        assert restarted.deliver_due().delivered == 0  # held by the dead sender
        clock.advance(31)
        assert restarted.deliver_due().delivered == 1
        again = Sender(context.sessions, context.settings.notify, clock=clock)
        assert again.deliver_due().delivered == 0
        keys = receiver.keys()
    assert len(keys) == 2 and len(set(keys)) == 2
    with transaction(context.sessions) as session:
        counts = outbox_counts(session=session)
    assert (counts.pending, counts.failing, counts.delivered) == (0, 0, 2)


@pytest.mark.postgresql
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_replicas_never_claim_one_row_at_once(context: AppContext) -> None:
    # SKIP LOCKED: a row another replica's open transaction claimed is passed over.
    with_notify(context, notify_settings("http://127.0.0.1:9/a"))
    write(context, step(event(0, 2), event(200, 201), watermark=202))
    now, hold = Clock()(), timedelta(seconds=30)
    first, second = context.sessions(), context.sessions()
    try:
        with first.begin(), second.begin():
            a = claim_due(session=first, sinks=["ops"], now=now, hold=hold)
            b = claim_due(session=second, sinks=["ops"], now=now, hold=hold)
            assert a is not None and b is not None and a.id != b.id
            assert claim_due(session=second, sinks=["ops"], now=now, hold=hold) is None
    finally:
        first.close()
        second.close()


def test_the_daemon_companion_sends_after_each_cycle_and_stops(context: AppContext) -> None:
    with Receiver() as receiver:
        notify = notify_settings(receiver.url, poll_seconds=600)  # no timer: a cycle wakes it
        with_notify(context, notify)
        sender = Sender(context.sessions, notify, clock=context.clock)
        companion = NotifyCompanion(sender, poll_seconds=notify.poll_seconds)
        companion.start()
        try:
            time.sleep(0.3)  # its first pass found nothing; it waits for a cycle
            write(context, step(event(0, 2), watermark=3))
            time.sleep(0.5)
            assert receiver.keys() == []
            companion.cycle_finished(CycleReport(pipeline="default", job="detect", cycle_at=T0))
            wait_for(lambda: len(receiver.keys()) == 1, timeout=10)
        finally:
            companion.stop()
        assert companion.thread is not None and not companion.thread.is_alive()


def test_the_payloads_query_finds_the_events_points(context: AppContext) -> None:
    with_notify(context, notify_settings("http://127.0.0.1:9/a"))

    def point(k: int) -> dict[str, Any]:
        values = {"observed": 9.0, "predicted": 1.0, "residual": 8.0, "threshold": 2.0}
        return {
            "pipeline": "default",
            "series_id": 1,
            "ts": T0 + k * STEP,
            **values,
            "score": 0.999,
            "severity": "critical",
            "direction": "high",
            "rule": "forecast",
            "signals": "forecast",
            "model_version_id": None,
            "run_id": None,
            "detected_at": T0,
        }

    rows = StepRows(
        1,
        anomalies=[point(0), point(2), point(50)],
        events=[event(0, 2), event(50, 50)],
        new_events=2,
        watermark=watermark_row("default", 1, T0 + 51 * STEP, now=T0),
    )
    write(context, rows)
    first = min(outbox(context), key=lambda r: r.id)
    query = json.loads(first.payload)["query"]
    with context.engine.connect() as connection:
        found = [row[0] for row in connection.execute(text(query))]
    assert [str(ts)[:16] for ts in found] == ["2024-05-11 10:00", "2024-05-11 10:30"]


def test_a_daemon_run_once_sends_what_its_cycle_queued_before_it_exits(
    context: AppContext,
) -> None:
    with Receiver() as receiver:
        notify = notify_settings(receiver.url, poll_seconds=600)
        with_notify(context, notify)
        sender = Sender(context.sessions, notify, clock=context.clock)
        companion = NotifyCompanion(sender, poll_seconds=600, final_drain_seconds=5)
        companion.start()
        time.sleep(0.3)  # its first pass found nothing
        write(context, step(event(0, 2), watermark=3))
        companion.stop()  # at once: the thread stops, the final drain sends
        assert len(receiver.keys()) == 1


def test_a_queued_notification_outlives_its_deleted_event(context: AppContext) -> None:
    # A correction's re-scoring and `redetect` delete events: what was queued is still sent.
    with Receiver() as receiver:
        with_notify(context, notify_settings(receiver.url))
        write(context, step(event(0, 2), watermark=3))
        with transaction(context.sessions) as session:
            clear_detections(session=session, pipeline="default", series_id=1, before=None)
        [row] = outbox(context)
        assert row.event_id is None and row.delivered_at is None
        sender = Sender(context.sessions, context.settings.notify, clock=context.clock)
        assert sender.deliver_due().delivered == 1
        assert receiver.keys() == [row.idempotency_key]
