"""A points file's mistakes are one clear message naming the file and the row: times finer
than a microsecond, day-first dates, dates the service cannot hold, huge cells."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecaster.errors import IngestError
from forecaster.io.files import ReadOptions, read_points
from forecaster.messages import exception_summary, quoted


def csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "points.csv"
    path.write_text(text, encoding="utf-8")
    return path


SUB_MICROSECOND = (
    "timestamp,value\n"
    "2024-01-01 00:00:00.0000001,1\n"
    "2024-01-01 00:00:00.0000002,2\n"
    "2024-01-01 00:00:01.0000001,3\n"
    "2024-01-01 00:00:01.0000009,4\n"
)


def test_times_below_a_microsecond_are_cut_and_then_are_duplicates(tmp_path: Path) -> None:
    path = csv(tmp_path, SUB_MICROSECOND)
    parsed = read_points(path, ReadOptions())
    assert parsed.times_truncated == 4
    assert parsed.duplicates_dropped == 2 and list(parsed.points) == [2.0, 4.0]
    assert parsed.points.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    with pytest.raises(IngestError, match=r"2 timestamp\(s\) appear more than once.*lines 2, 3"):
        read_points(path, ReadOptions(on_duplicate="error"))


def test_day_first_dates_are_read_day_first_on_every_row(tmp_path: Path) -> None:
    # 12/02 alone would read month-first; 13/02 shows the whole file is day-first.
    path = csv(tmp_path, "date,value\n12/02/2020,1\n13/02/2020,2\n14/02/2020,3\n")
    parsed = read_points(path, ReadOptions())
    assert [ts.strftime("%Y-%m-%d") for ts in parsed.points.index] == [
        "2020-02-12",
        "2020-02-13",
        "2020-02-14",
    ]
    assert parsed.time_format == "%d/%m/%Y" and not parsed.was_unsorted


def test_month_first_dates_stay_month_first(tmp_path: Path) -> None:
    path = csv(tmp_path, "date,value\n02/12/2020,1\n02/13/2020,2\n")
    parsed = read_points(path, ReadOptions())
    assert parsed.points.index[1] == pd.Timestamp("2020-02-13", tz="UTC")


def test_ambiguous_dates_are_an_error_naming_a_row(tmp_path: Path) -> None:
    path = csv(tmp_path, "date,value\n01/01/2020,0\n01/02/2020,1\n02/02/2020,2\n")
    with pytest.raises(IngestError) as info:
        read_points(path, ReadOptions())
    message = str(info.value)
    assert message.startswith(f"{path}: line 3: the dates are ambiguous: '01/02/2020'")
    assert "2020-01-02 (month first) or 2020-02-01 (day first)" in message
    assert "--dayfirst" in message and "--time-format" in message
    day_first = read_points(path, ReadOptions(dayfirst=True))
    assert day_first.points.index[1] == pd.Timestamp("2020-02-01", tz="UTC")
    month_first = read_points(path, ReadOptions(dayfirst=False))
    assert month_first.points.index[1] == pd.Timestamp("2020-01-02", tz="UTC")


def test_a_time_format_is_applied_to_every_row(tmp_path: Path) -> None:
    path = csv(tmp_path, "date,value\n01.02.2020 10h,1\n2020-02-02,2\n")
    with pytest.raises(IngestError, match=r"line 3: unparseable time '2020-02-02'"):
        read_points(path, ReadOptions(time_format="%d.%m.%Y %Hh"))
    parsed = read_points(path, ReadOptions(time_format="%d.%m.%Y %Hh", skip_bad_rows=True))
    assert parsed.points.index[0] == pd.Timestamp("2020-02-01 10:00", tz="UTC")
    with pytest.raises(IngestError, match=r"^--time-format '%Q': 'Q' is a bad directive"):
        read_points(path, ReadOptions(time_format="%Q"))


def test_a_format_with_a_dash_is_read_in_the_timezone(tmp_path: Path) -> None:
    # "-2020" must not be taken for a UTC offset.
    path = csv(tmp_path, "date,value\n13-02-2020 10:00,1\n14-02-2020 10:00,2\n")
    parsed = read_points(path, ReadOptions(timezone="Europe/Paris"))
    assert parsed.points.index[0] == pd.Timestamp("2020-02-13 09:00", tz="UTC")


def test_dates_the_service_cannot_hold_name_their_line_and_value(tmp_path: Path) -> None:
    path = csv(tmp_path, "timestamp,value\n2020-01-01,1\n1500-01-01,2\n3000-06-01,3\n")
    with pytest.raises(IngestError) as info:
        read_points(path, ReadOptions())
    message = str(info.value)
    assert "line 3: time '1500-01-01' is outside 1677-09-22 .. 2262-04-11" in message
    assert "line 4: time '3000-06-01' is outside" in message
    skipped = read_points(path, ReadOptions(skip_bad_rows=True))
    assert list(skipped.points) == [1.0] and len(skipped.bad_rows) == 2


def test_a_huge_bad_cell_is_cut_short_in_the_message(tmp_path: Path) -> None:
    huge = "x" * 5_000_000
    path = csv(tmp_path, f"timestamp,value\n2020-01-01,1\n2020-01-02,{huge}\n")
    with pytest.raises(IngestError) as info:
        read_points(path, ReadOptions())
    message = str(info.value)
    assert len(message) < 400 and "(5,000,000 characters)" in message


def test_quoted_values_and_exception_summaries_are_one_short_line() -> None:
    assert quoted("abc") == "'abc'"
    assert len(quoted("y" * 1000)) < 110
    assert exception_summary(ValueError("first\nsecond")) == "ValueError: first"

    class DriverError(Exception):
        pass

    class Wrapped(Exception):  # like SQLAlchemy's IntegrityError: SQL text around the cause
        orig = DriverError("NOT NULL constraint failed: forecasts.predicted")

    wrapped = Wrapped("(sqlite3.IntegrityError) ...\n[SQL: INSERT INTO forecasts ...]")
    assert exception_summary(wrapped) == (
        "DriverError: NOT NULL constraint failed: forecasts.predicted"
    )
