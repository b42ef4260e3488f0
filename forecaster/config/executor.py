"""Where a backfill runs its series: this process, local worker processes, or a Dask cluster."""

from __future__ import annotations

from pydantic import Field, field_validator

from forecaster.config.strict import StrictModel


class ExecutorSettings(StrictModel):
    """Where `forecaster backfill` and `forecaster evaluate` run their series."""

    workers: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Series processed at once by local worker processes (1: in this process).",
    )
    dask: str | None = Field(
        default=None,
        description="Address of a running Dask scheduler (e.g. tcp://host:8786): series run as "
        "tasks on its workers, which need this package installed, the database URL reachable "
        "and model_dir on a shared filesystem. Overrides workers.",
    )
    threads_per_worker: int = Field(
        default=1,
        ge=1,
        le=256,
        description="TensorFlow and BLAS threads in each local worker process (workers x "
        "threads should not exceed the cores), and in each Dask worker whose environment does "
        "not set them (OMP_NUM_THREADS, TF_NUM_INTRAOP_THREADS, ...).",
    )

    lease_wait_seconds: float = Field(
        default=600.0,
        ge=0,
        description="How long a backfill waits for a series that a daemon replica or another "
        "backfill is processing before it reports the series as busy (a rerun resumes it).",
    )

    @field_validator("dask")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if "://" not in value:
            raise ValueError(
                f"{value!r} is not a scheduler address: use PROTOCOL://HOST:PORT, "
                "e.g. tcp://127.0.0.1:8786"
            )
        return value
