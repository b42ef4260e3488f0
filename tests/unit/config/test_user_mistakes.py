"""Config values that would be accepted and then fail later (a frequency never scored, a cron
that never fires, a first model that cannot train, a series name that is a path) are errors
naming the file and the key, at load time."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forecaster.config.loading import load_config
from forecaster.config.validators import check_frequency, series_name_problem
from forecaster.errors import ConfigError


def error_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    return str(info.value).replace(f"{path}: ", "")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5min", "must be a positive interval, got '-5min'"),
        ("0min", "must be a positive interval, got '0min'"),
        ("7x", "not a frequency: '7x' (a pandas offset alias such as 5min, h, D or B)"),
    ],
)
def test_a_frequency_must_be_a_positive_offset_alias(
    tmp_path: Path, value: str, message: str
) -> None:
    text = f"pipelines:\n  - name: p\n    preprocess: {{frequency: '{value}'}}\n"
    assert error_of(tmp_path, text) == f"pipelines[0].preprocess.frequency: {message}"


@pytest.mark.parametrize("value", ["5min", "h", "D", "B", "MS", "15s"])
def test_frequencies_users_write_are_accepted(value: str) -> None:
    assert check_frequency(value, "--frequency") == value


def test_a_frequency_option_is_named_in_its_message() -> None:
    with pytest.raises(ValueError, match=r"^--frequency: must be a positive interval"):
        check_frequency("-1h", "--frequency")


@pytest.mark.parametrize("section", ["training", "schedule"])
def test_a_cron_that_never_fires_is_an_error(tmp_path: Path, section: str) -> None:
    text = f"pipelines:\n  - name: p\n    {section}: {{cron: '0 0 30 2 *'}}\n"
    assert error_of(tmp_path, text) == (
        f"pipelines[0].{section}.cron: cron expression '0 0 30 2 *' never fires (no such date)"
    )


def test_initial_points_below_what_the_model_needs_gives_the_minimum(tmp_path: Path) -> None:
    text = "pipelines:\n  - name: p\n    training: {initial_points: 100}\n"
    assert error_of(tmp_path, text) == (
        "pipelines[0]: training.initial_points is 100, but the model needs at least 140 points "
        "to train (window 64 + chunk 64 + horizon 12): raise initial_points or shrink the model"
    )
    ok = "pipelines:\n  - name: p\n    training: {initial_points: 30}\n    model: {window: 8}\n"
    (tmp_path / "ok.yaml").write_text(ok)
    assert load_config(tmp_path / "ok.yaml", env={}).pipelines[0].training.initial_points == 30


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "a series name cannot be empty"),
        ("   ", "is only whitespace"),
        (".", "is not allowed (it names a directory)"),
        ("..", "is not allowed (it names a directory)"),
        ("a\nb", "contains a line break or control character"),
    ],
)
def test_unusable_series_names_in_a_config_name_the_list_entry(
    tmp_path: Path, name: str, problem: str
) -> None:
    text = yaml.safe_dump({"pipelines": [{"name": "p", "series": {"names": ["ok", name]}}]})
    message = error_of(tmp_path, text)
    assert message.startswith("pipelines[0].series.names[1]: ") and problem in message
    assert series_name_problem(name) is not None and series_name_problem("cpu.load") is None


def test_a_source_series_name_is_checked_too(tmp_path: Path) -> None:
    text = (
        "pipelines:\n  - name: p\n    source: {table: t, time_column: ts, value_column: v, "
        "series_name: '..'}\n"
    )
    assert error_of(tmp_path, text).startswith("pipelines[0].source.series_name: series name")


def test_a_huge_config_value_is_cut_short(tmp_path: Path) -> None:
    text = f"pipelines:\n  - name: p\n    backfill_chunk: '{'9x' * 50_000}'\n"
    message = error_of(tmp_path, text)
    assert message.startswith("pipelines[0].backfill_chunk: Input should be a valid integer")
    assert len(message) < 250 and "(100,000 characters)" in message


def test_a_pipeline_named_like_a_directory_is_refused(tmp_path: Path) -> None:
    assert error_of(tmp_path, "pipelines:\n  - name: '..'\n") == (
        "pipelines[0].name: '..' names a directory: use letters or digits too"
    )


def test_a_model_store_must_be_a_url(tmp_path: Path) -> None:
    message = error_of(tmp_path, "model_store: shared/models\n")
    assert message.startswith("model_store: 'shared/models' is not a URL")


def test_a_model_store_from_the_environment_must_be_a_url(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("model_store: file:///srv/models\n", encoding="utf-8")
    assert load_config(path, env={}).model_store == "file:///srv/models"
    with pytest.raises(ConfigError, match="FORECASTER_MODEL_STORE='here' is not a URL"):
        load_config(path, env={"FORECASTER_MODEL_STORE": "here"})
