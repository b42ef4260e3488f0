"""Typed, validated settings loaded from config.yaml with environment overrides."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from forecaster.detection_settings import DetectionSettings
from forecaster.errors import ConfigError
from forecaster.settings_base import StrictModel

CONFIG_ENV = "FORECASTER_CONFIG"
DATABASE_URL_ENV = "FORECASTER_DATABASE_URL"
MODEL_DIR_ENV = "FORECASTER_MODEL_DIR"
DEFAULT_CONFIG_NAME = "config.yaml"
DEFAULT_DATABASE_FILE = "forecaster.db"

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+$")


class DatabaseSettings(StrictModel):
    """Where the service keeps its tables."""

    url: str = Field(
        default=f"sqlite:///{DEFAULT_DATABASE_FILE}",
        description="SQLAlchemy URL; relative SQLite paths resolve next to the config file.",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging).")
    sqlite_busy_timeout_s: float = Field(
        default=30.0, gt=0, description="How long SQLite waits for a lock before failing."
    )


class TableSourceSettings(StrictModel):
    """A user's existing table, read in place; identifiers are checked against the schema."""

    table: str
    db_schema: str | None = Field(default=None, alias="schema")
    time_column: str
    value_column: str
    series_column: str | None = None
    series_value: str | None = None
    series_name: str | None = Field(
        default=None,
        description="Name of the single series this table provides (default: the table name, "
        "or series_value when that is given).",
    )
    timezone: str = Field(default="UTC", description="Zone of naive timestamps in the table.")

    @model_validator(mode="after")
    def _series_value_needs_column(self) -> TableSourceSettings:
        if self.series_value is not None and self.series_column is None:
            raise ValueError("series_value is given but series_column is not")
        return self


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
        return None if value is None else _check_cron(value)

    @field_validator("check_every")
    @classmethod
    def _check_every_is_duration(cls, value: str) -> str:
        return _check_duration(value, "check_every")


def _check_duration(value: str, what: str) -> str:
    """A positive duration in pandas notation (30s, 5min, 1h, 1d)."""
    import pandas as pd  # config loading stays light unless durations are given

    try:
        duration = pd.Timedelta(value)
    except ValueError:
        raise ValueError(f"{what}: not a duration: {value!r} (e.g. 30s, 5min, 1h)") from None
    if duration <= pd.Timedelta(0):
        raise ValueError(f"{what}: must be positive, got {value!r}")
    return value


def _check_cron(value: str) -> str:
    """A five-field crontab expression (minute hour day month day-of-week), evaluated in UTC."""
    from apscheduler.triggers.cron import CronTrigger

    from forecaster.crontab import standard_crontab

    try:
        CronTrigger.from_crontab(standard_crontab(value), timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"not a valid cron expression {value!r}: {exc}") from None
    return value


class ScheduleSettings(StrictModel):
    """When the daemon runs a pipeline's detection cycle: an interval or a cron expression."""

    every: str | None = Field(
        default=None, description="Interval between cycles (30s, 5min, 1h); default 1min."
    )
    cron: str | None = Field(
        default=None, description="Crontab expression in UTC, e.g. '*/5 * * * *'."
    )

    @field_validator("every")
    @classmethod
    def _every_is_duration(cls, value: str | None) -> str | None:
        return None if value is None else _check_duration(value, "every")

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str | None) -> str | None:
        return None if value is None else _check_cron(value)

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleSettings:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either every or cron, not both")
        return self

    @property
    def interval(self) -> str | None:
        """The interval in effect (None when a cron expression schedules the cycles)."""
        return None if self.cron is not None else (self.every or "1min")


class SeriesSelector(StrictModel):
    """Which series a pipeline processes; with no key set, every series."""

    names: list[str] | None = None
    pattern: str | None = Field(default=None, description="Shell-style glob on series names.")
    kind: str | None = None


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
        default=2000,
        ge=1,
        description="Points per backfill transaction (rows and watermark commit together).",
    )

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not _NAME_PATTERN.match(value):
            raise ValueError("use letters, digits, '_', '-' or '.' only")
        return value


class DaemonSettings(StrictModel):
    """How `forecaster daemon` runs its jobs and shares series between replicas."""

    lease_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A replica's claim on a series lasts this long (renewed while it works); "
        "a replica that dies releases its series for the others after it.",
    )
    retry_seconds: float = Field(
        default=120.0,
        ge=0,
        description="How long a cycle keeps retrying (with backoff) while the database is "
        "unreachable before it gives up; the next cycle resumes from the watermarks.",
    )
    misfire_grace_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A cycle that could not start on time still runs if this late; missed "
        "cycles are coalesced into one.",
    )


class Settings(StrictModel):
    """The whole configuration, as validated from the file plus environment overrides."""

    database: DatabaseSettings = DatabaseSettings()
    daemon: DaemonSettings = DaemonSettings()
    model_dir: Path = Field(default=Path("models"), description="Root of the model store.")
    pipelines: list[PipelineSettings] = Field(
        default_factory=lambda: [PipelineSettings(name="default")]
    )
    config_path: Path | None = Field(default=None, exclude=True)

    @field_validator("pipelines")
    @classmethod
    def _unique_pipeline_names(cls, value: list[PipelineSettings]) -> list[PipelineSettings]:
        names = [p.name for p in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate pipeline name(s): {', '.join(duplicates)}")
        if not value:
            raise ValueError("at least one pipeline is required")
        return value

    def pipeline(self, name: str | None) -> PipelineSettings:
        """The pipeline called `name`, or the first one when `name` is None."""
        if name is None:
            return self.pipelines[0]
        for pipeline in self.pipelines:
            if pipeline.name == name:
                return pipeline
        known = ", ".join(p.name for p in self.pipelines)
        raise ConfigError(f"no pipeline named {name!r} in the config (pipelines: {known})")


def resolve_config_path(path: Path | str | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    """The config file to read and whether the user named it explicitly."""
    if path is not None:
        return Path(path), True
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]), True
    return Path(DEFAULT_CONFIG_NAME), False


def load_config(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, validate and resolve settings; every problem is a ConfigError naming file and key."""
    env = os.environ if env is None else env
    config_path, explicit = resolve_config_path(path, env)
    raw: dict[str, Any] = {}
    if config_path.exists():
        raw = _read_yaml(config_path)
    elif explicit:
        raise ConfigError(f"config file not found: {config_path}")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(config_path, exc)) from None
    return _apply_environment(settings, config_path.resolve(), env)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys, not {type(data).__name__}"
        )
    return data


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = _key_path(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "missing required value"
        else:
            message = f"{error['msg']} (got {error.get('input')!r})"
        lines.append(f"{path}: {key}: {message}" if key else f"{path}: {message}")
    return "\n".join(lines)


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _apply_environment(settings: Settings, config_path: Path, env: Mapping[str, str]) -> Settings:
    base_dir = config_path.parent
    url = settings.database.url
    if env.get(DATABASE_URL_ENV):
        url = env[DATABASE_URL_ENV]
    else:
        url = _resolve_sqlite_path(url, base_dir)
    model_dir = Path(env[MODEL_DIR_ENV]) if env.get(MODEL_DIR_ENV) else settings.model_dir
    if not model_dir.is_absolute():
        model_dir = base_dir / model_dir
    database = settings.database.model_copy(update={"url": url})
    return settings.model_copy(
        update={"database": database, "model_dir": model_dir, "config_path": config_path}
    )


def _resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Make `sqlite:///relative.db` point next to the config file, not the working directory."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite://" or ":memory:" in url:
        return url
    rest = url[len(prefix) :]
    if rest.startswith("/"):
        return url
    return prefix + str(base_dir / rest)
