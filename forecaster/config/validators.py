"""Validators shared by settings sections and commands: durations, frequencies, crontab
expressions, series names and unique names."""

from __future__ import annotations

from datetime import UTC, datetime

from forecaster.messages import quoted

# Series names become directory names in the model store and lines in reports.
_PATH_NAMES = {".", ".."}


def check_duration(value: str, what: str) -> str:
    """A positive duration in pandas notation (30s, 5min, 1h, 1d)."""
    import pandas as pd  # config loading stays light unless durations are given

    try:
        duration = pd.Timedelta(value)
    except ValueError:
        raise ValueError(f"{what}: not a duration: {quoted(value)} (e.g. 30s, 5min, 1h)") from None
    if duration <= pd.Timedelta(0):
        raise ValueError(f"{what}: must be positive, got {quoted(value)}")
    return value


def check_frequency(value: str, what: str | None = None) -> str:
    """A positive pandas offset alias (5min, h, D, B, MS): a series' sampling interval.
    `what` (e.g. --frequency) starts the message when given."""
    from pandas.tseries.frequencies import to_offset

    where = f"{what}: " if what else ""
    try:
        offset = to_offset(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}not a frequency: {quoted(value)} (a pandas offset alias such as 5min, "
            "h, D or B)"
        ) from None
    if offset.n <= 0:
        raise ValueError(f"{where}must be a positive interval, got {quoted(value)}")
    return value


def check_cron(value: str) -> str:
    """A five-field crontab expression (minute hour day month day-of-week), evaluated in UTC,
    that fires at some time (`0 0 30 2 *`, February 30th, never does)."""
    from apscheduler.triggers.cron import CronTrigger

    from forecaster.config.crontab import standard_crontab

    try:
        trigger = CronTrigger.from_crontab(standard_crontab(value), timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"not a valid cron expression {quoted(value)}: {exc}") from None
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise ValueError(f"cron expression {quoted(value)} never fires (no such date)")
    return value


def series_name_problem(name: str) -> str | None:
    """Why `name` cannot name a series, or None when it can."""
    if not name:
        return "a series name cannot be empty"
    if not name.strip():
        return f"series name {quoted(name)} is only whitespace"
    if name in _PATH_NAMES:
        return f"series name {quoted(name)} is not allowed (it names a directory)"
    if any(not ch.isprintable() for ch in name):
        return f"series name {quoted(name)} contains a line break or control character"
    return None


def check_series_name(name: str) -> str:
    """A usable series name (for pydantic validators: ValueError otherwise)."""
    problem = series_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


def store_url_problem(url: str) -> str | None:
    """Why `url` cannot name a shared model store, or None when it can (its filesystem is
    opened later: forecaster.model.remote.open_filesystem)."""
    if "://" not in url:
        return "is not a URL (such as s3://bucket/models or file:///srv/models)"
    return None


def check_unique(names: list[str], what: str) -> None:
    """Names that must be told apart (pipelines, sinks): the repeated ones are an error."""
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate {what} name(s): {', '.join(duplicates)}")
