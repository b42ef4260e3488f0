"""How raw points become a regular series."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from forecaster.config.strict import StrictModel
from forecaster.config.validators import check_frequency


class PreprocessSettings(StrictModel):
    """How raw points become a regular series the model can read."""

    frequency: str | None = Field(
        default=None,
        description="Sampling interval as a pandas alias (5min, h, D, B); default: the series' "
        "stored frequency, else inferred from the data.",
    )
    max_gap_fill: int = Field(
        default=3,
        ge=0,
        description="Gaps of up to this many missing steps are filled by linear interpolation "
        "(filled points are model input, never anomalies); longer gaps split the series.",
    )
    rescore_limit: int = Field(
        default=10_000,
        ge=0,
        description="Observations written behind the watermark (corrections, late points) are "
        "re-scored from the first changed one, at most this many grid steps back.",
    )
    aggregate: Literal["mean", "median", "first", "last", "min", "max", "sum"] = Field(
        default="mean",
        description="How several raw points in one grid interval become its value (jittered "
        "or bursty timestamps); an interval with none is a gap.",
    )

    @field_validator("frequency")
    @classmethod
    def _frequency_is_positive(cls, value: str | None) -> str | None:
        return None if value is None else check_frequency(value)
