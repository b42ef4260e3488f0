"""Read config.yaml, validate it and apply the environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from forecaster.config.detection import METHOD_SECTIONS
from forecaster.config.settings import Settings
from forecaster.config.validators import store_url_problem
from forecaster.errors import ConfigError
from forecaster.messages import quoted

CONFIG_ENV = "FORECASTER_CONFIG"


DATABASE_URL_ENV = "FORECASTER_DATABASE_URL"


MODEL_DIR_ENV = "FORECASTER_MODEL_DIR"
MODEL_STORE_ENV = "FORECASTER_MODEL_STORE"


DEFAULT_CONFIG_NAME = "config.yaml"


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
        key, method = _key_path(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "missing required value"
        else:
            message = _problem(error)
        if method is not None:
            message += f" (method {method})"
        lines.append(f"{path}: {key}: {message}" if key else f"{path}: {message}")
    return "\n".join(lines)


def _problem(error: Any) -> str:
    """pydantic's message with the value it was given (cut short), unless it names it."""
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, dict | list) or quoted(value) in message:
        return message  # a section's own check (its keys are in the message) or named
    return f"{message} (got {quoted(value)})"


def _key_path(loc: tuple[int | str, ...]) -> tuple[str, str | None]:
    """The user's key path of an error location, and the method of the detection part the
    key belongs to (pydantic puts the union's tag into the location: left out here)."""
    out, method = "", None
    for previous, part in zip((None, *loc), loc, strict=False):
        if isinstance(part, int):
            out += f"[{part}]"
        elif previous in METHOD_SECTIONS and part in METHOD_SECTIONS[previous]:
            method = part
        else:
            out += f".{part}" if out else str(part)
    return out, method


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
    store = settings.model_store
    if env.get(MODEL_STORE_ENV):
        store = env[MODEL_STORE_ENV]
        problem = store_url_problem(store)
        if problem is not None:
            raise ConfigError(f"{MODEL_STORE_ENV}={store!r} {problem}")
    update = {"database": database, "model_dir": model_dir, "config_path": config_path}
    return settings.model_copy(update={**update, "model_store": store})


def _resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Make `sqlite:///relative.db` point next to the config file, not the working directory."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite://" or ":memory:" in url:
        return url
    rest = url[len(prefix) :]
    if rest.startswith("/"):
        return url
    return prefix + str(base_dir / rest)
