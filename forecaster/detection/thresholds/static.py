"""A fixed multiple of the model's own validation error spread."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import AliasChoices, Field

from forecaster.detection.arrays import FloatArray
from forecaster.detection.memo import FitMemo
from forecaster.detection.parts import PartSettings
from forecaster.detection.thresholds.base import ErrorSeries, Threshold


class StaticSettings(PartSettings):
    """`threshold: {method: static}`: k times the model's validation RMSE."""

    method: Literal["static"] = "static"
    k: float = Field(
        default=4.0,
        gt=0,
        validation_alias=AliasChoices("k", "k_static"),  # the name in earlier configs
        description="Multiples of the model's validation RMSE.",
    )


class StaticThreshold(Threshold):
    """ε = k · reference_scale: a fixed multiple of the model's own training error spread.

    Needs no history: every position is decided. `reference_scale` is required.
    """

    name: ClassVar[str] = "static"
    settings_type = StaticSettings

    def __init__(self, *, k: float = 4.0):
        """`k`: multiples of reference_scale above which an error is anomalous."""
        if not k > 0:
            raise ValueError(f"k must be > 0, got {k}")
        self.k = k

    @property
    def history(self) -> int:
        return 0  # a fixed level: no earlier error matters

    def _levels(
        self, series: ErrorSeries, reference_scale: float | None, fits: FitMemo
    ) -> FloatArray:
        if reference_scale is None:
            raise ValueError("the static threshold needs reference_scale (training error std)")
        size = series.errors.size - series.start
        return np.full(size, self.k * reference_scale, dtype=np.float64)
