"""How raw points become a regular series."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from forecaster.config.strict import StrictModel


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
    aggregate: Literal["mean", "median", "first", "last", "min", "max", "sum"] = Field(
        default="mean",
        description="How several raw points in one grid interval become its value (jittered "
        "or bursty timestamps); an interval with none is a gap.",
    )
