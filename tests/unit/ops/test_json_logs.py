"""The JSON log format: one object per line with time, level, logger, message and the fields
a line carries; tracebacks and odd characters stay inside the one line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from pipelines.daemon.cycles import CycleReport
from pipelines.ops.json_logs import JsonFormatter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("pipelines.daemon.cycles")
    made = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    made.created = datetime(2026, 12, 1, 12, 0, 0, 250000, tzinfo=UTC).timestamp()
    return made


def test_a_line_is_one_object_with_the_standard_keys() -> None:
    line = JsonFormatter().format(record("series %s failed: %s", "s\n1", "constant"))
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-12-01T12:00:00.250+00:00",
        "level": "WARNING",
        "logger": "pipelines.daemon.cycles",
        "message": "series s\n1 failed: constant",
    }


def test_the_cycle_line_carries_its_counts_and_duration() -> None:
    report = CycleReport(
        pipeline="p",
        job="detect",
        cycle_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        series=3,
        points=30,
        anomalies=2,
        events=1,
        models_trained=1,
        seconds=4.19912,
        errors={"b": "too short"},
    )
    entry = json.loads(JsonFormatter().format(record(report.log_line(), **report.log_fields())))
    assert entry["message"].startswith("cycle pipeline=p job=detect")
    assert entry["pipeline"] == "p" and entry["job"] == "detect" and entry["status"] == "partial"
    assert entry["counts"] == {
        "series": 3,
        "failed": 1,
        "points": 30,
        "anomalies": 2,
        "events": 1,
        "models_trained": 1,
    }
    assert entry["duration_seconds"] == 4.199
    assert "error" not in entry  # None fields are left out


def test_an_aborted_cycle_says_why_and_a_traceback_stays_in_the_line() -> None:
    report = CycleReport(pipeline="p", job="retrain", cycle_at=datetime(2026, 1, 1, tzinfo=UTC))
    report.aborted = "database x unreachable: connection refused"
    entry = json.loads(JsonFormatter().format(record("aborted", **report.log_fields())))
    assert entry["status"] == "aborted" and entry["error"].endswith("connection refused")
    try:
        raise ValueError("boom")
    except ValueError:
        logger = logging.getLogger("x")
        failed = logger.makeRecord("x", logging.ERROR, __file__, 1, "bug", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(failed))
    assert entry["level"] == "ERROR" and "ValueError: boom" in entry["traceback"]


def test_values_json_cannot_encode_are_written_as_text() -> None:
    when = datetime(2026, 12, 1, tzinfo=UTC)
    entry = json.loads(JsonFormatter().format(record("x", series="s", last_ts=when)))
    assert entry["series"] == "s" and entry["last_ts"] == "2026-12-01 00:00:00+00:00"
