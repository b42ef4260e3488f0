"""APScheduler triggers for pipelines, and the scheduled time a cycle belongs to; no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from forecaster.config.crontab import standard_crontab
from forecaster.config.pipeline import PipelineSettings

# Interval schedules are aligned to this instant, so every replica's cycles fire at the same
# times and agree on which cycle a run belongs to.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_LOOKBACKS = (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=400))


def interval_trigger(every: str) -> IntervalTrigger:
    seconds = pd.Timedelta(every).total_seconds()
    return IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC)


def cron_trigger(expression: str) -> CronTrigger:
    """A trigger for a five-field crontab expression in UTC, with standard day numbers."""
    return CronTrigger.from_crontab(standard_crontab(expression), timezone=UTC)


def detect_trigger(pipeline: PipelineSettings) -> BaseTrigger:
    """When the detection cycle of a pipeline runs."""
    schedule = pipeline.schedule
    if schedule.cron is not None:
        return cron_trigger(schedule.cron)
    assert schedule.interval is not None
    return interval_trigger(schedule.interval)


def retrain_trigger(pipeline: PipelineSettings) -> BaseTrigger:
    """When the retraining job runs: the training cron, else the drift check interval."""
    training = pipeline.training
    if training.cron is not None:
        return cron_trigger(training.cron)
    return interval_trigger(training.check_every)


def cycle_time(trigger: BaseTrigger, now: datetime) -> datetime:
    """The latest scheduled fire time at or before `now` (the cycle a run started at `now`
    belongs to, even when it starts late); `now` itself when the trigger never fired before."""
    if isinstance(trigger, IntervalTrigger):
        start, every = trigger.start_date, trigger.interval
        if now < start:
            return now
        return (start + (now - start) // every * every).astimezone(UTC)
    for lookback in _LOOKBACKS:
        fire = trigger.get_next_fire_time(None, now - lookback)
        if fire is None or fire > now:
            continue
        latest = fire
        while True:
            following = trigger.get_next_fire_time(latest, latest + timedelta(microseconds=1))
            if following is None or following > now:
                return latest.astimezone(UTC)
            latest = following
    return now
