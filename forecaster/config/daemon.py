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
