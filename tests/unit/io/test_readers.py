"""Parsing points files: every kind of bad input gets a message naming file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import IngestError
from forecaster.io.files import ReadOptions, read_points


def csv(tmp_path: Path, text: str, name: str = "points.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_nab_style_file(tmp_path: Path) -> None:
    path = csv(tmp_path, "timestamp,value\n2014-01-01 00:05:00,2\n2014-01-01 00:00:00,1.5\n")
    parsed = read_points(path, ReadOptions())
    assert parsed.time_column == "timestamp" and parsed.value_column == "value"
    assert list(parsed.points) == [1.5, 2.0]
    assert str(parsed.points.index.tz) == "UTC"
    assert parsed.points.index[0] == pd.Timestamp("2014-01-01 00:00", tz="UTC")
    assert parsed.was_unsorted


def test_value_column_must_be_named_when_ambiguous(tmp_path: Path) -> None:
    path = csv(tmp_path, "DATE,OPEN,CLOSE\n1990-01-02,1,2\n")
    with pytest.raises(
        IngestError, match=r"points\.csv: cannot tell which column holds the values"
    ):
        read_points(path, ReadOptions())
    parsed = read_points(path, ReadOptions(value_column="CLOSE"))
    assert parsed.time_column == "DATE" and list(parsed.points) == [2.0]


def test_unknown_column_lists_the_columns(tmp_path: Path) -> None:
    path = csv(tmp_path, "DATE,CLOSE\n1990-01-02,2\n")
    with pytest.raises(
        IngestError, match=r"no column 'PRICE' for --value-column \(columns: DATE, CLOSE\)"
    ):
        read_points(path, ReadOptions(value_column="PRICE"))


def test_bad_time_names_file_and_line(tmp_path: Path) -> None:
    path = csv(tmp_path, "timestamp,value\n2014-01-01,1\nyesterday,2\n2014-01-03,3\n")
    with pytest.raises(IngestError) as info:
        read_points(path, ReadOptions())
    message = str(info.value)
    assert str(path) in message
    assert "line 3: unparseable time 'yesterday'" in message
    assert "Nothing was written" in message and "--skip-bad-rows" in message


def test_bad_value_names_file_and_line(tmp_path: Path) -> None:
    path = csv(tmp_path, "timestamp,value\n2014-01-01,1\n2014-01-02,abc\n2014-01-03,inf\n")
    with pytest.raises(IngestError) as info:
        read_points(path, ReadOptions())
    message = str(info.value)
    assert "2 bad row(s)" in message
    assert "line 3: unparseable value 'abc'" in message
    assert "line 4: infinite value 'inf'" in message


def test_skip_bad_rows_reports_them(tmp_path: Path) -> None:
    path = csv(tmp_path, "timestamp,value\n2014-01-01,1\nnope,2\n2014-01-03,x\n2014-01-04,4\n")
    parsed = read_points(path, ReadOptions(skip_bad_rows=True))
    assert [p.line for p in parsed.bad_rows] == [3, 4]
    assert list(parsed.points) == [1.0, 4.0]


def test_missing_values_are_reported_not_stored(tmp_path: Path) -> None:
    path = csv(
        tmp_path, "timestamp,value\n2014-01-01,1\n2014-01-02,\n2014-01-03,NaN\n2014-01-04,4\n"
    )
    parsed = read_points(path, ReadOptions())
    assert parsed.missing_value_lines == [3, 4]
    assert list(parsed.points) == [1.0, 4.0]
    assert not np.isnan(parsed.points.to_numpy()).any()


def test_duplicate_timestamps_can_be_an_error_naming_lines(tmp_path: Path) -> None:
    path = csv(tmp_path, "timestamp,value\n2014-01-01,1\n2014-01-02,2\n2014-01-01,3\n")
    with pytest.raises(IngestError) as info:
        read_points(path, ReadOptions(on_duplicate="error"))
    message = str(info.value)
    assert "1 timestamp(s) appear more than once" in message
    assert "2014-01-01T00:00:00+00:00 on lines 2, 4" in message
    assert "--on-duplicate" in message


def test_duplicates_keep_the_last_row_by_default(tmp_path: Path) -> None:
    path = csv(tmp_path, "timestamp,value\n2014-01-01,1\n2014-01-01,2\n2014-01-01,3\n")
    parsed = read_points(path, ReadOptions())
    assert parsed.duplicates_dropped == 2 and list(parsed.points) == [3.0]


@pytest.mark.parametrize(("policy", "kept"), [("first", 1.0), ("last", 3.0)])
def test_duplicate_policy_keeps_one_row(tmp_path: Path, policy: str, kept: float) -> None:
    path = csv(tmp_path, "timestamp,value\n2014-01-01,1\n2014-01-02,2\n2014-01-01,3\n")
    parsed = read_points(path, ReadOptions(on_duplicate=policy))  # type: ignore[arg-type]
    assert parsed.duplicates_dropped == 1
    assert parsed.points.iloc[0] == kept and len(parsed.points) == 2


def test_malformed_csv(tmp_path: Path) -> None:
    path = csv(tmp_path, "timestamp,value\n2014-01-01,1\n2014-01-02,2,7,8\n")
    with pytest.raises(IngestError, match=r"points\.csv: malformed CSV: .*line 3"):
        read_points(path, ReadOptions())


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="the file is empty"):
        read_points(csv(tmp_path, "", "empty.csv"), ReadOptions())
    with pytest.raises(IngestError, match="no usable rows"):
        read_points(csv(tmp_path, "timestamp,value\n", "header.csv"), ReadOptions())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"nope\.csv: file not found"):
        read_points(tmp_path / "nope.csv", ReadOptions())


def test_timezones(tmp_path: Path) -> None:
    path = csv(tmp_path, "time,value\n2024-07-01 09:00,1\n2024-07-01T09:00:00+02:00,2\n")
    parsed = read_points(path, ReadOptions(timezone="Europe/Paris", on_duplicate="last"))
    # 09:00 Paris summer time and 09:00+02:00 are the same instant: a duplicate.
    assert parsed.points.index[0] == pd.Timestamp("2024-07-01 07:00", tz="UTC")
    assert parsed.duplicates_dropped == 1
    with pytest.raises(IngestError, match="unknown --timezone 'Mars/Olympus'"):
        read_points(path, ReadOptions(timezone="Mars/Olympus"))


def test_non_iso_dates(tmp_path: Path) -> None:
    # Month or day first is the user's to say here (tests/unit/io/test_user_mistakes.py).
    path = csv(tmp_path, "date,value\n01/02/1990,1\n01/03/1990,2\n")
    parsed = read_points(path, ReadOptions(dayfirst=False))
    assert parsed.points.index[1] == pd.Timestamp("1990-01-03", tz="UTC")


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "points.parquet"
    frame = pd.DataFrame(
        {"ts": pd.date_range("2024-01-01", periods=3, freq="h"), "reading": [1.0, np.nan, 3.0]}
    )
    frame.to_parquet(path)
    parsed = read_points(path, ReadOptions(value_column="reading"))
    assert list(parsed.points) == [1.0, 3.0]
    assert parsed.missing_value_lines == [2] and parsed.line_label == "row"
