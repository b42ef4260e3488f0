"""The daemon's triggers, pure: the cycle time of interval and cron triggers is their latest
fire time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.daemon.triggers import cron_trigger, cycle_time, interval_trigger


def test_cycle_time_is_the_latest_fire_time() -> None:
    now = datetime(2026, 11, 23, 16, 7, 31, 500000, tzinfo=UTC)
    assert cycle_time(interval_trigger("1min"), now) == datetime(2026, 11, 23, 16, 7, tzinfo=UTC)
    assert cycle_time(interval_trigger("7s"), now).second == 26  # aligned to 2000-01-01
    every_15 = cron_trigger("*/15 * * * *")
    assert cycle_time(every_15, now) == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    weekly = cron_trigger("0 3 * * 1")  # Mondays 03:00, as crontab(5) reads it
    assert cycle_time(weekly, now) == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    assert cycle_time(weekly, now - timedelta(hours=14)) == datetime(2026, 11, 16, 3, tzinfo=UTC)
