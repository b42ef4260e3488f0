"""Crontab expressions as users write them, for APScheduler; pure."""

from __future__ import annotations

import re

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def standard_crontab(expression: str) -> str:
    """Numeric days of week as crontab(5) means them (0 and 7 Sunday, 1 Monday), spelled as
    names: APScheduler 3 reads numbers as 0 = Monday."""
    fields = expression.split()
    if len(fields) != 5:
        return expression  # CronTrigger reports the field count
    fields[4] = re.sub(r"(?<![/\d])\d+", _day_name, fields[4])
    return " ".join(fields)


def _day_name(match: re.Match[str]) -> str:
    number = int(match.group())
    return _CRON_DAYS[number] if number < len(_CRON_DAYS) else match.group()
