"""When the daemon runs a pipeline's detection cycle."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from forecaster.config.strict import StrictModel
from forecaster.config.validators import check_cron, check_duration


class ScheduleSettings(StrictModel):
    """When the daemon runs a pipeline's detection cycle: an interval or a cron expression."""

    every: str | None = Field(
        default=None, description="Interval between cycles (30s, 5min, 1h); default 1min."
    )
    cron: str | None = Field(
        default=None, description="Crontab expression in UTC, e.g. '*/5 * * * *'."
    )

    @field_validator("every")
    @classmethod
    def _every_is_duration(cls, value: str | None) -> str | None:
        return None if value is None else check_duration(value, "every")

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleSettings:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either every or cron, not both")
        return self

    @property
    def interval(self) -> str | None:
        """The interval in effect (None when a cron expression schedules the cycles)."""
        return None if self.cron is not None else (self.every or "1min")
