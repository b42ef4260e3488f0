"""The notification bodies: the generic webhook's JSON, the Slack message, the event query,
and when an event can no longer grow."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pandas as pd

from pipelines.notify.outbox_sink import cannot_grow
from pipelines.notify.payloads import (
    Notice,
    anomalies_query,
    body,
    idempotency_key,
    slack_body,
    webhook_body,
)

NOTICE = Notice(
    event_id=42,
    pipeline="prod",
    series="boiler's temp",
    start=datetime(2024, 5, 11, 10, 0, tzinfo=UTC),
    end=datetime(2024, 5, 11, 10, 30, tzinfo=UTC),
    peak_ts=datetime(2024, 5, 11, 10, 15, tzinfo=UTC),
    peak_score=0.9987,
    severity="critical",
    direction="up",
    n_points=3,
)


def test_the_key_names_the_event_the_kind_and_the_sink() -> None:
    assert idempotency_key(42, "open", "ops") == "42:open:ops"
    assert idempotency_key(42, "close", "ops") != idempotency_key(42, "open", "ops")


def test_webhook_body_of_an_opened_event() -> None:
    sent = webhook_body(NOTICE, "open", "42:open:ops")
    assert sent == {
        "kind": "open",
        "idempotency_key": "42:open:ops",
        "event_id": 42,
        "pipeline": "prod",
        "series": "boiler's temp",
        "start": "2024-05-11T10:00:00Z",
        "end": None,  # still open
        "last_point": "2024-05-11T10:30:00Z",
        "peak_ts": "2024-05-11T10:15:00Z",
        "peak_score": 0.9987,
        "severity": "critical",
        "direction": "up",
        "n_points": 3,
        "query": anomalies_query(NOTICE),
        "query_params": {
            "pipeline": "prod",
            "series": "boiler's temp",
            "from": "2024-05-11T10:00:00Z",
            "to": "2024-05-11T10:30:00Z",
        },
    }
    assert webhook_body(NOTICE, "close", "42:close:ops")["end"] == "2024-05-11T10:30:00Z"


def test_the_query_runs_and_finds_the_events_points() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(
        "CREATE TABLE anomaly_events (id INTEGER, pipeline TEXT, series_id INTEGER, "
        "start_ts TEXT, end_ts TEXT);"
        "CREATE TABLE anomalies (pipeline TEXT, series_id INTEGER, ts TEXT, observed REAL, "
        "predicted REAL, score REAL, severity TEXT, direction TEXT);"
        "INSERT INTO anomaly_events VALUES (42, 'prod', 1, '2024-05-11 10:00:00.000000', "
        "'2024-05-11 10:30:00.000000'), (43, 'prod', 1, '2024-05-12 10:00:00.000000', "
        "'2024-05-12 10:30:00.000000');"
    )
    points = [
        ("prod", 1, "2024-05-11 10:15:00.000000"),
        ("prod", 1, "2024-05-11 10:30:00.000000"),
        ("prod", 1, "2024-05-11 11:00:00.000000"),  # after the event
        ("prod", 2, "2024-05-11 10:15:00.000000"),  # another series
        ("dev", 1, "2024-05-11 10:15:00.000000"),  # another pipeline
        ("prod", 1, "2024-05-12 10:15:00.000000"),  # another event
    ]
    for pipeline, series_id, ts in points:
        db.execute(
            "INSERT INTO anomalies VALUES (?, ?, ?, 1, 0, 0.99, 'critical', 'up')",
            (pipeline, series_id, ts),
        )
    rows = db.execute(anomalies_query(NOTICE)).fetchall()
    assert [r[0] for r in rows] == ["2024-05-11 10:15:00.000000", "2024-05-11 10:30:00.000000"]


def test_slack_body_has_text_and_blocks() -> None:
    message = slack_body(NOTICE, "open", "42:open:ops")
    assert message["text"] == (
        "[critical] anomaly opened on boiler's temp (prod): up, peak score 0.999 "
        "at 2024-05-11T10:15:00Z"
    )
    kinds = [block["type"] for block in message["blocks"]]
    assert kinds == ["section", "section", "context"]
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert "*Series*\nboiler's temp" in fields and "*Severity*\ncritical" in fields
    assert "(ongoing)" in message["blocks"][2]["elements"][0]["text"]
    closed = slack_body(NOTICE, "close", "42:close:ops")
    assert closed["text"].startswith("[critical] anomaly closed")
    assert "to 2024-05-11T10:30:00Z" in closed["blocks"][2]["elements"][0]["text"]


def test_body_is_json_in_the_sinks_format() -> None:
    assert json.loads(body("slack", NOTICE, "open", "k"))["text"].startswith("[critical]")
    assert json.loads(body("webhook", NOTICE, "open", "k"))["event_id"] == 42


def test_an_event_closes_once_past_the_merge_gap_and_the_refractory_reach() -> None:
    step = pd.tseries.frequencies.to_offset("15min")
    start, end = NOTICE.start, NOTICE.end  # 10:00 .. 10:30

    def closed(watermark: str, refractory: int = 0) -> bool:
        return cannot_grow(
            start=start,
            end=end,
            watermark=pd.Timestamp(watermark, tz="UTC").to_pydatetime(),
            step=step,
            merge_gap=2,
            refractory=refractory,
        )

    # A point at 11:15 is 2 empty steps after 10:30 (10:45, 11:00): it would still join.
    assert not closed("2024-05-11 11:00")
    assert closed("2024-05-11 11:15")
    # Within the refractory reach of its start (10 steps: to 12:30) it may still grow.
    assert not closed("2024-05-11 12:15", refractory=10)
    assert closed("2024-05-11 12:30", refractory=10)
