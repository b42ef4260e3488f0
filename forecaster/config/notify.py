"""Alert notifications: where events are sent (webhook or Slack), which ones, how retried."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from forecaster.config.strict import StrictModel
from forecaster.config.validators import check_unique

Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_ORDER: tuple[Severity, ...] = ("low", "medium", "high", "critical")


class SinkSettings(StrictModel):
    """One receiver of notifications: a generic JSON webhook or a Slack incoming webhook."""

    name: str = Field(min_length=1, max_length=100, description="Names the sink in the outbox.")
    type: Literal["webhook", "slack"] = Field(
        default="webhook", description="webhook: the event as JSON; slack: a Slack message."
    )
    url: str = Field(description="Where the notification is POSTed (http or https).")
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="A POST not answered within this fails."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers (e.g. Authorization)."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.strip()


class NotifyFilters(StrictModel):
    """Which events are notified: all of them unless narrowed here."""

    pipelines: list[str] = Field(
        default_factory=list, description="Only these pipelines' events (empty: every pipeline)."
    )
    min_severity: Severity = Field(
        default="low", description="Only events whose severity is at least this."
    )
    min_peak_score: float = Field(
        default=0.0, ge=0, le=1, description="Only events whose peak score is at least this."
    )

    def admits(self, *, pipeline: str, severity: str, peak_score: float) -> bool:
        """Whether an event with these fields is notified."""
        if self.pipelines and pipeline not in self.pipelines:
            return False
        rank = SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else 0
        return rank >= SEVERITY_ORDER.index(self.min_severity) and peak_score >= self.min_peak_score


class RetrySettings(StrictModel):
    """Backoff of failed deliveries; a notification is retried until it is acknowledged."""

    first_delay_seconds: float = Field(
        default=5.0, gt=0, description="Wait after the first failed attempt."
    )
    max_delay_seconds: float = Field(
        default=600.0, gt=0, description="The delay doubles after each failure up to this."
    )
    warn_after_attempts: int = Field(
        default=5,
        ge=1,
        description="From this many failed attempts on, each failure is logged as a warning "
        "(the notification is still retried at the max delay, never dropped).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.max_delay_seconds < self.first_delay_seconds:
            raise ValueError("retry.max_delay_seconds must be at least retry.first_delay_seconds")
        return self

    def delay(self, attempts: int) -> float:
        """Seconds before the next attempt after `attempts` failed ones (1, 2, ...)."""
        exponent = min(max(attempts - 1, 0), 60)  # no overflow for a sink down for weeks
        return min(self.first_delay_seconds * 2.0**exponent, self.max_delay_seconds)


class NotifySettings(StrictModel):
    """The `notify:` section: no sinks (the default) means no notifications."""

    sinks: list[SinkSettings] = Field(default_factory=list)
    filters: NotifyFilters = NotifyFilters()
    on_close: bool = Field(
        default=False, description="Also notify when a notified event closes (can't grow)."
    )
    retry: RetrySettings = RetrySettings()
    poll_seconds: float = Field(
        default=30.0, gt=0, description="The daemon's sender looks for due retries this often."
    )
    drain_seconds: float = Field(
        default=30.0,
        ge=0,
        description="`backfill --notify` and `daemon --once` send for at most this long at "
        "their end; the rest stays in the outbox for the daemon.",
    )

    @field_validator("sinks")
    @classmethod
    def _unique_names(cls, value: list[SinkSettings]) -> list[SinkSettings]:
        check_unique([s.name for s in value], "sink")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.sinks)

    def sink(self, name: str) -> SinkSettings | None:
        """The configured sink called `name` (None: no longer in the config)."""
        return next((s for s in self.sinks if s.name == name), None)
