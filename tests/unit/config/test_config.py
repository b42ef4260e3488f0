"""Config loading: validation errors name the file and key path; env overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from forecaster.config.loading import load_config
from forecaster.errors import ConfigError
from tests.helpers.paths import REPO_ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid() -> None:
    settings = load_config(REPO_ROOT / "config.yaml", env={})
    assert settings.database.url == f"sqlite:///{REPO_ROOT / 'forecaster.db'}"
    assert settings.model_dir == REPO_ROOT / "models"
    assert [p.name for p in settings.pipelines] == ["default"]


def test_relative_sqlite_path_resolves_next_to_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: sqlite:///data/x.db\n")
    assert load_config(path, env={}).database.url == f"sqlite:///{tmp_path / 'data' / 'x.db'}"


def test_default_database_is_next_to_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert load_config(path, env={}).database.url == f"sqlite:///{tmp_path / 'forecaster.db'}"


def test_database_url_environment_override(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: sqlite:///x.db\n")
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/other"
    settings = load_config(path, env={"FORECASTER_DATABASE_URL": url})
    assert settings.database.url == url


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "model_dir: /srv/models\n")
    settings = load_config(None, env={"FORECASTER_CONFIG": str(path)})
    assert settings.model_dir == Path("/srv/models")
    assert settings.config_path == path.resolve()


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml", env={})


def test_unknown_key_names_file_and_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, "pipelines:\n  - name: a\n    sauce: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == f"{path}: pipelines[0].sauce: unknown key"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "databse:\n  url: sqlite:///x.db\n")
    with pytest.raises(ConfigError, match=r"config\.yaml: databse: unknown key$"):
        load_config(path, env={})


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  echo: sometimes\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert message.startswith(f"{path}: database.echo: ")
    assert "'sometimes'" in message
    assert "\n" not in message


def test_missing_required_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pipelines:\n  - name: a\n    source:\n      table: readings\n      time_column: t\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == f"{path}: pipelines[0].source.value_column: missing required value"


def test_duplicate_pipeline_names(tmp_path: Path) -> None:
    path = write(tmp_path, "pipelines:\n  - name: a\n  - name: a\n")
    with pytest.raises(ConfigError, match=r"pipelines: .*duplicate pipeline name\(s\): a"):
        load_config(path, env={})


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"{path}:\d+:\d+: invalid YAML"):
        load_config(path, env={})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(path, env={})


def test_series_value_requires_series_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pipelines:\n  - name: a\n    source: {table: t, time_column: ts, value_column: v,"
        " series_value: x}\n",
    )
    with pytest.raises(ConfigError, match=r"pipelines\[0\]\.source: .*series_column is not"):
        load_config(path, env={})


def test_unknown_pipeline_lookup(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, ""), env={})
    with pytest.raises(ConfigError, match="no pipeline named 'nope'"):
        settings.pipeline("nope")
