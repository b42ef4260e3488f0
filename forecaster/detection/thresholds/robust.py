"""Median plus k robust standard deviations (MAD) of the trailing window."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import AliasChoices, Field

from forecaster.detection.arrays import BoolArray, FloatArray
from forecaster.detection.thresholds.windowed import WindowedSettings, WindowedThreshold

#: Scale factor that makes the median absolute deviation a consistent estimate of the
#: standard deviation of normally distributed data.
MAD_TO_STD = 1.4826


class RobustSettings(WindowedSettings):
    """`threshold: {method: robust}`: the rolling median plus k robust standard deviations."""

    method: Literal["robust"] = "robust"
    k: float = Field(
        default=4.0,
        gt=0,
        validation_alias=AliasChoices("k", "k_robust"),  # the name in earlier configs
        description="Robust standard deviations (1.4826 * MAD) above the median.",
    )


class RobustThreshold(WindowedThreshold):
    """ε = median + k · 1.4826 · MAD of the fit window (refitted like every windowed threshold).

    A window with MAD 0 (mostly constant errors) gives ε = median: anything larger is flagged.
    """

    name: ClassVar[str] = "robust"
    settings_type = RobustSettings

    def __init__(
        self,
        *,
        window: int = 1000,
        refit_every: int = 100,
        min_history: int = 100,
        k: float = 4.0,
    ):
        """`k`: robust standard deviations above the median."""
        super().__init__(window=window, refit_every=refit_every, min_history=min_history)
        if not k > 0:
            raise ValueError(f"k must be > 0, got {k}")
        self.k = k

    def _level(
        self, history: FloatArray, linked: BoolArray, reference_scale: float | None
    ) -> float:
        median = float(np.median(history))
        mad = float(np.median(np.abs(history - median)))
        return median + self.k * MAD_TO_STD * mad
