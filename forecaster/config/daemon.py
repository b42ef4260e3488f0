"""How `forecaster daemon` runs its jobs and shares series between replicas."""

from __future__ import annotations

from pydantic import Field

from forecaster.config.strict import StrictModel


class DaemonSettings(StrictModel):
    """How `forecaster daemon` runs its jobs and shares series between replicas."""

    lease_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A replica's claim on a series lasts this long (renewed while it works); "
        "a replica that dies releases its series for the others after it.",
    )
    retry_seconds: float = Field(
        default=120.0,
        ge=0,
        description="How long a cycle keeps retrying (with backoff) while the database is "
        "unreachable before it gives up; the next cycle resumes from the watermarks.",
    )
    misfire_grace_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A cycle that could not start on time still runs if this late; missed "
        "cycles are coalesced into one.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve Prometheus metrics (/metrics) and health probes (/healthz, /readyz) "
        "on this TCP port (`--metrics-port` overrides it); none: serve nothing.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address the metrics port listens on: 127.0.0.1 (this host only) or "
        "0.0.0.0 (every interface, e.g. in a container scraped from outside).",
    )
    metrics_series_labels: bool = Field(
        default=False,
        description="Opt-in: also export each series' lag and model age with a `series` "
        "label (one time series per series: keep it for a few hundred series at most).",
    )
    metrics_refresh_seconds: float = Field(
        default=10.0,
        ge=0,
        description="Lag, model age and failing series are read from the database at scrape "
        "time, at most once per this many seconds (scrapes in between get the cached values).",
    )
