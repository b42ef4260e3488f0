"""Readiness by the schedule, pure: a pipeline is overdue once two scheduled detection times
passed since its last cycle finished; a cron's quiet days do not count against it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.daemon.triggers import cron_trigger, interval_trigger
from pipelines.ops.health import overdue_at, schedule_problem
from pipelines.ops.probe import probe_url

T = datetime(2026, 12, 1, 12, 0, 5, tzinfo=UTC)  # a cycle of 12:00 finished


def test_an_interval_schedule_is_overdue_at_its_second_fire_after_the_finish() -> None:
    assert overdue_at(interval_trigger("1min"), T) == datetime(2026, 12, 1, 12, 2, tzinfo=UTC)


def test_a_weekday_cron_is_not_overdue_over_the_weekend() -> None:
    weekdays = cron_trigger("0 9 * * 1-5")
    friday = datetime(2026, 12, 4, 9, 0, 30, tzinfo=UTC)
    assert overdue_at(weekdays, friday) == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # Tuesday


def test_the_problem_names_the_pipeline() -> None:
    triggers = {"a": interval_trigger("1min"), "b": interval_trigger("1min")}
    before = schedule_problem(triggers, {"a": T}, T + timedelta(seconds=1))
    assert before == "pipeline b: no detection cycle has finished yet"
    on_time = {"a": T, "b": T}
    assert schedule_problem(triggers, on_time, T + timedelta(seconds=114)) is None
    late = schedule_problem(triggers, on_time, T + timedelta(seconds=115))
    assert late is not None and late.startswith("pipeline a: no detection cycle finished for 115 s")


def test_probe_urls_ask_the_local_address_for_every_interface() -> None:
    assert probe_url("0.0.0.0", 9100, ready=True) == "http://127.0.0.1:9100/readyz"
    assert probe_url("::", 9100, ready=False) == "http://[::1]:9100/healthz"
    assert probe_url("db.internal", 80, ready=False) == "http://db.internal:80/healthz"
