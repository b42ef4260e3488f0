"""One named pipeline: which series, from where, and every stage's settings."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from forecaster.config.detection import DetectionSettings
from forecaster.config.model import ModelSettings
from forecaster.config.preprocess import PreprocessSettings
from forecaster.config.schedule import ScheduleSettings
from forecaster.config.source import SeriesSelector, TableSourceSettings
from forecaster.config.strict import StrictModel
from forecaster.config.training import TrainingSchedule

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+$")


class PipelineSettings(StrictModel):
    """One named pipeline: which series, from where."""

    name: str
    series: SeriesSelector = SeriesSelector()
    source: TableSourceSettings | None = Field(
        default=None, description="Omit to read the service's own observations table."
    )
    preprocess: PreprocessSettings = PreprocessSettings()
    model: ModelSettings = ModelSettings()
    training: TrainingSchedule = TrainingSchedule()
    detection: DetectionSettings = DetectionSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    backfill_chunk: int = Field(
        default=5000,
        ge=1,
        description="Points per backfill transaction at most (rows and watermark commit "
        "together; a chunk also ends at each retraining cut-off).",
    )

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not _NAME_PATTERN.match(value):
            raise ValueError("use letters, digits, '_', '-' or '.' only")
        if value in {".", ".."}:
            raise ValueError(f"{value!r} names a directory: use letters or digits too")
        return value

    @model_validator(mode="after")
    def _first_model_can_train(self) -> PipelineSettings:
        needed = self.model.min_train_points
        if self.training.initial_points < needed:
            raise ValueError(
                f"training.initial_points is {self.training.initial_points}, but the model "
                f"needs at least {needed} points to train (window {self.model.window} + chunk "
                f"{self.model.scoring_chunk} + horizon {self.model.horizon}): raise "
                "initial_points or shrink the model"
            )
        return self
