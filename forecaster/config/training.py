"""When the pipelines train: the first model, walk-forward cut-offs, drift and cron."""

from __future__ import annotations

from pydantic import Field, field_validator

from forecaster.config.strict import StrictModel
from forecaster.config.validators import check_cron, check_duration


class TrainingSchedule(StrictModel):
    """When the pipelines train: once enough history exists, then walk-forward."""

    initial_points: int = Field(
        default=500,
        ge=2,
        description="Regular points needed before the first model is trained; earlier points "
        "are not scored.",
    )
    retrain_every: int = Field(
        default=2000,
        ge=1,
        description="Grid steps between retrainings; each model scores the points after its "
        "training cut-off until the next cut-off.",
    )
    retrain_epochs: int | None = Field(
        default=None,
        ge=1,
        description="Opt-in warm start: a walk-forward retraining starts from the weights of "
        "the previous cut-off's model (same model settings) and trains this many epochs (at "
        "most model.epochs) instead of model.epochs from scratch. null (default): every model "
        "trains from scratch (on the dev NAB set, 4 warm epochs were 1.4x faster but scored "
        "lower over three seeds: see README).",
    )
    warm_min_share: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="With retrain_epochs: a retraining starts warm only from a model that saw "
        "at least this share of the new training span's points (and kept its network); else "
        "it trains model.epochs from scratch. 0: always warm.",
    )
    cron: str | None = Field(
        default=None,
        description="Daemon only: also retrain every series on this crontab schedule (UTC).",
    )
    drift_factor: float | None = Field(
        default=2.0,
        gt=1.0,
        description="Daemon only: retrain a series when the mean absolute one-step error of its "
        "last drift_window scored points exceeds this multiple of its model's validation MAE "
        "(null: off).",
    )
    drift_window: int = Field(
        default=200, ge=10, description="Scored points the drift check averages over."
    )
    check_every: str = Field(
        default="1h",
        description="Daemon only: how often the retraining job checks for drift when no cron "
        "is given.",
    )

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("check_every")
    @classmethod
    def _check_every_is_duration(cls, value: str) -> str:
        return check_duration(value, "check_every")
