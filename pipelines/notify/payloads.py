"""The bodies POSTed for an event: a generic JSON webhook and a Slack incoming-webhook message;
pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Kind = Literal["open", "close"]


@dataclass(frozen=True)
class Notice:
    """What a notification tells of one event."""

    event_id: int
    pipeline: str
    series: str
    start: datetime
    end: datetime  # the event's last anomalous point so far
    peak_ts: datetime
    peak_score: float
    severity: str
    direction: str
    n_points: int


def idempotency_key(event_id: int, kind: Kind, sink: str) -> str:
    """One key per event, kind and sink: a receiver drops a notification it has seen."""
    return f"{event_id}:{kind}:{sink}"


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def query_params(notice: Notice) -> dict[str, str]:
    """The event's anomalies as parameters (for a dashboard link: pipeline, series, from, to)."""
    return {
        "pipeline": notice.pipeline,
        "series": notice.series,
        "from": _iso(notice.start),
        "to": _iso(notice.end),
    }


def anomalies_query(notice: Notice) -> str:
    """A ready-to-run SQL query of the event's anomalous points, as far as it reaches when
    run (psql or sqlite3 alike: it compares stored times with stored times)."""
    return (
        "SELECT a.ts, a.observed, a.predicted, a.score, a.severity, a.direction "
        "FROM anomalies a JOIN anomaly_events e ON e.pipeline = a.pipeline "
        "AND e.series_id = a.series_id AND a.ts BETWEEN e.start_ts AND e.end_ts "
        f"WHERE e.id = {int(notice.event_id)} ORDER BY a.ts"
    )


def webhook_body(notice: Notice, kind: Kind, key: str) -> dict[str, Any]:
    """The generic webhook's JSON: the event, its state and how to look at it."""
    return {
        "kind": kind,
        "idempotency_key": key,
        "event_id": notice.event_id,
        "pipeline": notice.pipeline,
        "series": notice.series,
        "start": _iso(notice.start),
        "end": _iso(notice.end) if kind == "close" else None,
        "last_point": _iso(notice.end),
        "peak_ts": _iso(notice.peak_ts),
        "peak_score": notice.peak_score,
        "severity": notice.severity,
        "direction": notice.direction,
        "n_points": notice.n_points,
        "query": anomalies_query(notice),
        "query_params": query_params(notice),
    }


def slack_text(notice: Notice, kind: Kind) -> str:
    """The one-line summary Slack shows in notifications."""
    verb = "opened" if kind == "open" else "closed"
    return (
        f"[{notice.severity}] anomaly {verb} on {notice.series} ({notice.pipeline}): "
        f"{notice.direction}, peak score {notice.peak_score:.3f} at {_iso(notice.peak_ts)}"
    )


def slack_body(notice: Notice, kind: Kind, key: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (the fallback) and blocks with the fields."""
    span = _iso(notice.start) + (f" to {_iso(notice.end)}" if kind == "close" else " (ongoing)")
    fields = [
        f"*Series*\n{notice.series}",
        f"*Pipeline*\n{notice.pipeline}",
        f"*Severity*\n{notice.severity}",
        f"*Peak score*\n{notice.peak_score:.3f}",
        f"*Direction*\n{notice.direction}",
        f"*Points*\n{notice.n_points}",
    ]
    return {
        "text": slack_text(notice, kind),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": slack_text(notice, kind)}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"{span} · event {notice.event_id} · key {key}"}
                ],
            },
        ],
    }


def body(sink_type: str, notice: Notice, kind: Kind, key: str) -> str:
    """The request body a sink of `sink_type` (webhook or slack) receives, as JSON text."""
    build = slack_body if sink_type == "slack" else webhook_body
    return json.dumps(build(notice, kind, key), sort_keys=True)
