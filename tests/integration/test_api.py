"""The pandas API: `detect` returns the rows a backfill writes, for every series of a frame; bad
input gets a clear error and a series that cannot be scored does not stop the others."""

from __future__ import annotations

import inspect as pyinspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text

import forecaster
from forecaster.config.settings import Settings
from forecaster.errors import ConfigError, ForecasterError
from pipelines import api
from tests.helpers.pipelines import backfill_reference
from tests.helpers.series import TINY_PIPELINE, write_config

POINTS = 600
SPIKE_AT = 450
START = "2024-05-01"
FREQ = "15min"
# What no result frame shows: ids, keys to other tables, bookkeeping.
NOT_FINDINGS = {"id", "pipeline", "series_id", "model_version_id", "run_id"}
NOT_FINDINGS |= {"detected_at", "created_at", "updated_at"}


def sensors(n: int = POINTS) -> pd.DataFrame:
    """Two seasonal 15-minute sensors on a naive index, one with a 3-point spike."""
    rng = np.random.default_rng(7)
    t = np.arange(n)
    spiky = 10 + 2 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.2, n)
    spiky[SPIKE_AT : SPIKE_AT + 3] += 6.0
    calm = 5 + np.cos(2 * np.pi * t / 96) + rng.normal(0, 0.1, n)
    index = pd.date_range(START, periods=n, freq=FREQ, name="timestamp")
    return pd.DataFrame({"spiky": spiky, "calm": calm}, index=index)


def tiny_settings() -> Settings:
    return Settings.model_validate({"pipelines": [TINY_PIPELINE]})


def reference_frame(url: str, table: str, columns: list[str], order: str, where: str = "") -> Any:
    """`series` and `columns` of `table`'s rows in database `url`, read with plain SQL."""
    selected = ", ".join(f"t.{c}" for c in columns)
    query = (
        f"SELECT s.name AS series, {selected} FROM {table} t "
        f"JOIN series s ON s.id = t.series_id {where}"
    )
    engine = create_engine(url)
    with engine.connect() as connection:
        frame = pd.DataFrame([tuple(r) for r in connection.execute(text(query))])
    engine.dispose()
    frame.columns = pd.Index(["series", *columns])
    for column in columns:
        if column == "ts" or column.endswith("_ts"):
            frame[column] = pd.to_datetime(frame[column].astype(str), utc=True, format="ISO8601")
    return frame.sort_values(["series", order], kind="stable").reset_index(drop=True)


def findings(url: str, table: str) -> list[str]:
    """The columns of `table` (reflected from the database) that the API returns."""
    engine = create_engine(url)
    columns = [c["name"] for c in inspect(engine).get_columns(table)]
    engine.dispose()
    return [c for c in columns if c not in NOT_FINDINGS]


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), expected, check_dtype=False, check_exact=True
    )


def test_detect_returns_the_rows_a_backfill_writes(db_url: str, tmp_path: Path) -> None:
    data = sensors()
    for name in data.columns:  # the same points as files (naive times: UTC, as ingest reads)
        points = pd.DataFrame({"timestamp": data.index, "value": data[name].to_numpy()})
        points.to_csv(tmp_path / f"{name}.csv", index=False)
    backfill_reference(db_url, tmp_path, ["spiky", "calm"])
    # The reference's own config: its database is not touched, its pipeline scores the frame.
    config = tmp_path / "reference" / "config.yaml"
    result = forecaster.detect(data, config, workdir=tmp_path / "api")
    assert (tmp_path / "api" / api.DATABASE).exists()  # a given workdir is kept
    assert any((tmp_path / "api" / api.MODELS).iterdir())

    columns = findings(db_url, "anomalies")
    assert {"ts", "observed", "predicted", "residual", "score", "severity"} <= set(columns)
    assert list(result.anomalies.columns) == ["series", *columns]
    assert_same(result.anomalies, reference_frame(db_url, "anomalies", columns, "ts"))
    columns = findings(db_url, "anomaly_events")
    assert columns[:5] == ["start_ts", "end_ts", "peak_ts", "peak_score", "n_points"]
    assert list(result.events.columns) == ["series", *columns]
    assert_same(result.events, reference_frame(db_url, "anomaly_events", columns, "start_ts"))
    columns = ["ts", "predicted", "observed", "lower", "upper"]
    assert list(result.predictions.columns) == ["series", *columns]
    expected = reference_frame(db_url, "forecasts", columns, "ts", "WHERE t.step = 1")
    assert_same(result.predictions, expected)

    # Not vacuous: the spike is an event of the spiky series, and both series were scored.
    spike = pd.Timestamp(START, tz="UTC") + SPIKE_AT * pd.Timedelta(FREQ)
    spiky = result.events[result.events["series"] == "spiky"]
    assert ((spiky["start_ts"] - spike).abs() <= pd.Timedelta("1h")).any(), spiky
    assert (result.anomalies["series"] == "spiky").any()
    assert set(result.predictions["series"]) == {"spiky", "calm"}
    assert len(result.predictions) > 2 * (POINTS - 250)
    assert result.failed == {} and result.notes == {}


def test_a_series_input_naive_times_are_utc_and_order_does_not_matter(tmp_path: Path) -> None:
    data = sensors()
    shuffled = data["spiky"].sample(frac=1.0, random_state=0)  # naive, unsorted
    naive = forecaster.detect(shuffled, tiny_settings())
    new_york = data["spiky"].tz_localize("UTC").tz_convert("America/New_York")
    aware = forecaster.detect(new_york, tiny_settings(), workdir=tmp_path)

    predictions = naive.predictions
    assert set(predictions["series"]) == {"spiky"}
    assert str(predictions["ts"].dt.tz) == "UTC"
    first = pd.Timestamp(START, tz="UTC") + TINY_PIPELINE["training"]["initial_points"] * (
        pd.Timedelta(FREQ)
    )
    assert predictions["ts"].iloc[0] == first
    assert predictions["ts"].is_monotonic_increasing
    observed = data["spiky"].tz_localize("UTC").reindex(pd.DatetimeIndex(predictions["ts"]))
    np.testing.assert_array_equal(predictions["observed"].to_numpy(), observed.to_numpy())
    assert not naive.anomalies.empty
    for got, expected in zip(
        (aware.anomalies, aware.events, aware.predictions),
        (naive.anomalies, naive.events, naive.predictions),
        strict=True,
    ):
        pd.testing.assert_frame_equal(got, expected)

    unnamed = forecaster.detect(pd.Series(data["calm"].to_numpy()[:50], index=data.index[:50]))
    assert unnamed.predictions.empty and list(unnamed.notes) == ["value"]  # the default name


def test_series_that_cannot_be_scored_are_reported_and_the_others_scored(tmp_path: Path) -> None:
    data = sensors(300)[["calm"]]
    data["flat"] = 1.0
    data["short"] = data["calm"].where(np.arange(300) < 50)  # 50 points, then missing
    data["two"] = np.nan
    data.loc[data.index[[5, 100]], "two"] = [1.0, 2.0]
    data["none"] = np.nan
    config = write_config(tmp_path, "sqlite:///never-used.db")
    result = forecaster.detect(data, str(config), workdir=tmp_path / "work")

    assert set(result.predictions["series"]) == {"calm"}
    assert len(result.predictions) == 100  # 300 points, the first 200 train the first model
    assert sorted(result.failed) == ["none", "two"]
    assert "every value is missing" in result.failed["none"]
    assert "too few to tell its frequency" in result.failed["two"], result.failed
    assert sorted(result.notes) == ["flat", "short"]
    assert result.notes["flat"].startswith("not scored yet: constant at 1"), result.notes
    assert result.notes["short"].startswith("waiting for history: 50 of 200"), result.notes
    assert not (tmp_path / "never-used.db").exists()

    again = forecaster.detect(data, str(config), workdir=tmp_path / "work")  # starts afresh
    pd.testing.assert_frame_equal(again.predictions, result.predictions)
    assert (again.failed, again.notes) == (result.failed, result.notes)


def _frame(**columns: Any) -> pd.DataFrame:
    return pd.DataFrame(columns, index=pd.date_range(START, periods=3, freq="h"))


BAD_INPUT = [
    pytest.param([1.0, 2.0], "must be a pandas DataFrame or Series", id="a list"),
    pytest.param(pd.DataFrame(), "no columns", id="no columns"),
    pytest.param(
        pd.DataFrame({"x": []}, index=pd.DatetimeIndex([])), "empty: it has no rows", id="empty"
    ),
    pytest.param(
        pd.DataFrame({"timestamp": ["2024-01-01", "2024-01-02"], "x": [1.0, 2.0]}),
        r"DatetimeIndex\), not a RangeIndex.*set_index\('timestamp'\).*pd\.to_datetime",
        id="not a datetime index",
    ),
    pytest.param(
        pd.DataFrame(
            {"x": [1.0, 2.0, 3.0]}, index=pd.to_datetime(["2024-01-01", "2024-01-01", "NaT"])
        ),
        r"1 missing timestamp\(s\) \(NaT\)",
        id="missing times",
    ),
    pytest.param(
        pd.DataFrame(
            {"x": [1.0, 2.0, 3.0]}, index=pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-02"])
        ),
        r"1 timestamp\(s\) appear more than once \(in UTC\), e.g. 2024-01-02T00:00:00\+00:00",
        id="duplicates",
    ),
    pytest.param(
        _frame(x=[1.0, 2.0, 3.0], label=["a", "b", "c"]),
        r"non-numeric column\(s\) 'label' \(",
        id="a non-numeric column",
    ),
    pytest.param(
        _frame(label=["a", "b", "c"], ok=[True, False, True]),
        r"no numeric columns to score \(columns: 'label' \(.*\), 'ok' \(bool\)\)",
        id="no numeric column",
    ),
    pytest.param(_frame(**{" ": [1.0, 2.0, 3.0]}), "is only whitespace", id="a bad name"),
    pytest.param(
        _frame(x=[1.0, np.inf, 3.0]),
        r"series 'x' has 1 infinite value\(s\), e.g. at 2024-05-01T01:00:00\+00:00",
        id="infinite",
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD_INPUT)
def test_bad_input_gets_a_clear_error(data: Any, message: str) -> None:
    with pytest.raises(ForecasterError, match=message):
        forecaster.detect(data, tiny_settings())


def test_bad_config_gets_a_clear_error(tmp_path: Path) -> None:
    data = _frame(x=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="config must be a Settings object"):
        forecaster.detect(data, 3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no pipeline named 'other'"):
        forecaster.detect(data, tiny_settings(), pipeline="other")
    with pytest.raises(ConfigError, match="config file not found"):
        forecaster.detect(data, tmp_path / "missing.yaml")


def test_forecaster_detect_is_the_api_and_import_forecaster_stays_light() -> None:
    assert pyinspect.signature(forecaster.detect) == pyinspect.signature(api.detect)
    check = "import forecaster, sys; assert 'tensorflow' not in sys.modules, 'tensorflow loaded'"
    subprocess.run([sys.executable, "-c", check], check=True)
