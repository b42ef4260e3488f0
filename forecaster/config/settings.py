"""The whole configuration: database, daemon, executor, model store and pipelines."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from forecaster.config.daemon import DaemonSettings
from forecaster.config.database import DatabaseSettings
from forecaster.config.executor import ExecutorSettings
from forecaster.config.notify import NotifySettings
from forecaster.config.pipeline import PipelineSettings
from forecaster.config.strict import StrictModel
from forecaster.config.validators import check_unique, store_url_problem
from forecaster.errors import ConfigError


class Settings(StrictModel):
    """The whole configuration, as validated from the file plus environment overrides."""

    database: DatabaseSettings = DatabaseSettings()
    daemon: DaemonSettings = DaemonSettings()
    executor: ExecutorSettings = ExecutorSettings()
    notify: NotifySettings = NotifySettings()
    model_dir: Path = Field(default=Path("models"), description="Root of the model store.")
    model_store: str | None = Field(
        default=None,
        description="A shared model store at an fsspec URL (s3://bucket/models, "
        "file:///srv/models, …) for processes on other machines (a Dask cluster): versions are "
        "published there and fetched into model_dir, which caches them. Needs "
        "`pip install 'forecaster[remote]'` and the storage's fsspec package (s3fs, gcsfs).",
    )
    pipelines: list[PipelineSettings] = Field(
        default_factory=lambda: [PipelineSettings(name="default")]
    )
    config_path: Path | None = Field(default=None, exclude=True)

    @field_validator("model_store")
    @classmethod
    def _store_is_a_url(cls, value: str | None) -> str | None:
        problem = None if value is None else store_url_problem(value)
        if problem is not None:
            raise ValueError(f"{value!r} {problem}; a local directory is model_dir")
        return value

    @field_validator("pipelines")
    @classmethod
    def _unique_pipeline_names(cls, value: list[PipelineSettings]) -> list[PipelineSettings]:
        check_unique([p.name for p in value], "pipeline")
        if not value:
            raise ValueError("at least one pipeline is required")
        return value

    @model_validator(mode="after")
    def _notified_pipelines_exist(self) -> Settings:
        known = [p.name for p in self.pipelines]
        unknown = [n for n in self.notify.filters.pipelines if n not in known]
        if unknown:  # a typo here would silently mute a pipeline's alerts
            raise ValueError(
                f"notify.filters.pipelines: no pipeline named {', '.join(unknown)} "
                f"(pipelines: {', '.join(known)})"
            )
        return self

    def pipeline(self, name: str | None) -> PipelineSettings:
        """The pipeline called `name`, or the first one when `name` is None."""
        if name is None:
            return self.pipelines[0]
        for pipeline in self.pipelines:
            if pipeline.name == name:
                return pipeline
        known = ", ".join(p.name for p in self.pipelines)
        raise ConfigError(f"no pipeline named {name!r} in the config (pipelines: {known})")
