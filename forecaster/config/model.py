"""The recurrent network's settings and how it is trained."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from forecaster.config.strict import StrictModel

CalendarFeature = Literal["hour_of_day", "day_of_week"]


class ModelSettings(StrictModel):
    """The recurrent network and how it is trained."""

    cell: Literal["gru", "lstm"] = "gru"
    layers: int = Field(default=1, ge=1, le=4)
    units: int = Field(default=32, ge=1, le=1024)
    dropout: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Input dropout of each recurrent layer."
    )
    window: int = Field(
        default=64,
        ge=2,
        description="Input window: steps of history every prediction has at least.",
    )
    chunk: int | None = Field(
        default=None,
        ge=1,
        description="Scoring chunk: the network's state restarts every `chunk` steps, so a "
        "prediction sees between `window` and `window + chunk - 1` steps (default: window).",
    )
    horizon: int = Field(default=12, ge=1, le=1000, description="Steps forecast ahead.")
    calendar: list[CalendarFeature] = Field(
        default_factory=list, description="Extra inputs: hour_of_day, day_of_week."
    )
    loss: Literal["huber", "mse", "mae"] = "huber"
    epochs: int = Field(default=16, ge=1)
    batch_size: int = Field(default=64, ge=1)
    learning_rate: float = Field(default=5e-3, gt=0)
    patience: int = Field(default=4, ge=0, description="Early stopping patience (epochs).")
    validation_fraction: float = Field(default=0.2, ge=0.0, lt=0.9)
    max_train_samples: int = Field(
        default=1024,
        ge=16,
        description="Training sequences per epoch at most: bounds training time on long series.",
    )
    band_coverage: float = Field(
        default=0.9, gt=0.0, lt=1.0, description="Share of validation errors inside the band."
    )
    seasonality: int | Literal["auto", "none"] = Field(
        default="auto",
        description="Season length in steps: the network also sees the value one season before "
        "each target, so repeating patterns (a daily cycle in 5-minute data) are foreseen. "
        "auto: one day below daily data, one week for daily (D) and business-day (B) data.",
    )
    clip_sigmas: float = Field(
        default=20.0,
        gt=0,
        description="The network's inputs (the value and its seasonal lag) and its training "
        "targets are clipped to the training span's 1st-99th percentile range widened by this "
        "many robust standard deviations (IQR / 1.349), so a glitch such as 1e12 neither "
        "dominates the training loss nor echoes one season later; forecasts still start "
        "from the unclipped last value, so a real level shift is followed.",
    )
    persistence_fallback: float | None = Field(
        default=1.2,
        gt=0,
        description="A trained network whose one-step MAE on the validation span exceeds this "
        "multiple of the last-value forecast's there is not used: the model then forecasts "
        "the last value (metrics `forecast: persistence`), so a network that learned less than "
        "repeating the last point (too little history, a pattern not seen yet) raises no "
        "alarms of its own. null: always the network.",
    )
    seed: int = Field(default=0, description="Mixed with the series name into the model seed.")

    @field_validator("seasonality")
    @classmethod
    def _season_is_positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 2:
            raise ValueError("a season is at least 2 steps (or 'auto', or 'none')")
        return value

    @property
    def scoring_chunk(self) -> int:
        """The effective scoring chunk length."""
        return self.chunk or self.window

    @property
    def min_train_points(self) -> int:
        """Fewest regular points a training span needs."""
        return self.window + self.scoring_chunk + self.horizon
