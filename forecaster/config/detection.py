"""Typed, validated settings of error smoothing, scoring and thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from forecaster.config.strict import StrictModel


class ThresholdSettings(StrictModel):
    """Which threshold judges the smoothed errors, and its parameters."""

    method: Literal["dynamic", "static", "robust"] = Field(
        default="dynamic",
        description="dynamic: Hundman et al. (KDD 2018) with pruning; static: k_static times "
        "the model's training error spread; robust: median + k_robust * 1.4826 * MAD.",
    )
    window: int = Field(
        default=1000,
        ge=2,
        description="Finite errors the level is fitted on (dynamic, robust); also the pruning "
        "window of the dynamic threshold.",
    )
    refit_every: int = Field(
        default=100,
        ge=1,
        description="Grid steps between refits: the level for a point is fitted on errors up "
        "to the last step that is a multiple of this (dynamic, robust).",
    )
    min_history: int = Field(
        default=100,
        ge=1,
        description="Fewest finite errors a fit needs; with fewer, points are not judged "
        "(dynamic, robust). At most `window`.",
    )
    z_min: float = Field(default=2.0, gt=0, description="Smallest z in ε = mean + z·std (dynamic).")
    z_max: float = Field(
        default=10.0,
        gt=0,
        description="Largest z searched (dynamic); ε = mean + z_max·std when no z scores above 0.",
    )
    z_step: float = Field(default=0.5, gt=0, description="Spacing of the z grid (dynamic).")
    prune: float = Field(
        default=0.13,
        ge=0,
        lt=1,
        description="Hundman's p: an anomalous run whose peak is within this relative "
        "decrease of the next smaller one is pruned (dynamic; 0 disables pruning).",
    )
    k_static: float = Field(
        default=4.0, gt=0, description="Multiples of the training error spread (static)."
    )
    k_robust: float = Field(
        default=4.0, gt=0, description="Robust standard deviations above the median (robust)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ThresholdSettings:
        if self.z_min > self.z_max:
            raise ValueError(f"z_min ({self.z_min}) is larger than z_max ({self.z_max})")
        if self.min_history > self.window:
            raise ValueError(
                f"min_history ({self.min_history}) is larger than window ({self.window})"
            )
        return self


class DetectionSettings(StrictModel):
    """How forecast errors become anomaly scores, decisions and events."""

    smoothing_span: int = Field(
        default=20, ge=1, description="EWMA span of the error smoothing (alpha = 2/(span+1))."
    )
    smoothing_length: int = Field(
        default=100,
        ge=1,
        description="Length of the truncated EWMA kernel: a smoothed error depends on this "
        "many points exactly (100 keeps all but 0.005% of the weight of span 20).",
    )
    score_window: int = Field(
        default=1000,
        ge=2,
        description="Previous smoothed errors the tail score's mean and std come from.",
    )
    score_min_history: int = Field(
        default=100,
        ge=1,
        description="Fewest finite previous smoothed errors a tail score needs (else NaN). "
        "At most `score_window`.",
    )
    threshold: ThresholdSettings = ThresholdSettings()
    merge_gap: int = Field(
        default=10,
        ge=0,
        description="Anomalous points separated by at most this many non-anomalous grid "
        "steps belong to one event.",
    )
    min_score: float = Field(
        default=0.94,
        ge=0.0,
        le=1.0,
        description="Points scoring below this are not reported even when over the threshold. "
        "0.94 is z = 4 against the recent smoothed errors (score = z²/(1+z²)): the dynamic "
        "threshold alone flags small runs even in pure noise.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> DetectionSettings:
        if self.score_min_history > self.score_window:
            raise ValueError(
                f"score_min_history ({self.score_min_history}) is larger than "
                f"score_window ({self.score_window})"
            )
        return self
