"""Validators shared by settings sections: durations and crontab expressions."""

from __future__ import annotations


def check_duration(value: str, what: str) -> str:
    """A positive duration in pandas notation (30s, 5min, 1h, 1d)."""
    import pandas as pd  # config loading stays light unless durations are given

    try:
        duration = pd.Timedelta(value)
    except ValueError:
        raise ValueError(f"{what}: not a duration: {value!r} (e.g. 30s, 5min, 1h)") from None
    if duration <= pd.Timedelta(0):
        raise ValueError(f"{what}: must be positive, got {value!r}")
    return value


def check_cron(value: str) -> str:
    """A five-field crontab expression (minute hour day month day-of-week), evaluated in UTC."""
    from apscheduler.triggers.cron import CronTrigger

    from forecaster.config.crontab import standard_crontab

    try:
        CronTrigger.from_crontab(standard_crontab(value), timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"not a valid cron expression {value!r}: {exc}") from None
    return value
