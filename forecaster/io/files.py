"""Read (time, value) points from a CSV or Parquet file, validating every row."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pandas as pd

from forecaster.errors import IngestError
from forecaster.io.timestamps import EARLIEST, LATEST, TimeOptions, parse_times
from forecaster.messages import quoted
from forecaster.vocabulary import MAX_EXAMPLES

DuplicatePolicy = Literal["error", "first", "last"]

TIME_COLUMN_CANDIDATES = ("timestamp", "time", "ts", "datetime", "date")
VALUE_COLUMN_CANDIDATES = ("value",)
MISSING_MARKERS = frozenset({"", "nan", "na", "n/a", "null", "none"})


@dataclass(frozen=True)
class ReadOptions:
    """How to read one points file."""

    time_column: str | None = None
    value_column: str | None = None
    timezone: str = "UTC"
    time_format: str | None = None  # strptime format of every time, e.g. %d/%m/%Y %H:%M
    dayfirst: bool | None = None  # dates like 01/02/2020: day first; None: the file must tell
    skip_bad_rows: bool = False
    # Real exports repeat timestamps (e.g. NAB's ec2 latency file at a DST change): keep the
    # last row by default and report how many were dropped; "error" makes them fatal.
    on_duplicate: DuplicatePolicy = "last"


@dataclass(frozen=True)
class RowProblem:
    """One row that could not be used, with its 1-based line (CSV) or row (Parquet) number."""

    line: int
    reason: str


@dataclass
class PointsFile:
    """The validated points of a file plus everything that was dropped on the way."""

    path: Path
    time_column: str
    value_column: str
    points: pd.Series
    rows_read: int
    line_label: str
    bad_rows: list[RowProblem] = field(default_factory=list)
    missing_value_lines: list[int] = field(default_factory=list)
    duplicates_dropped: int = 0
    was_unsorted: bool = False
    times_truncated: int = 0  # times with digits below a microsecond, cut off
    time_format: str = "ISO 8601"


def read_points(path: Path, options: ReadOptions) -> PointsFile:
    """Parse `path` into a sorted, unique, UTC-indexed float series; IngestError on bad input."""
    frame, line_offset, label = _read_table(path)
    time_column = _choose_time_column(path, list(frame.columns), options.time_column)
    value_column = _choose_value_column(
        path, list(frame.columns), time_column, options.value_column
    )
    lines = np.arange(len(frame)) + line_offset

    raw_time = frame[time_column]
    raw_value = frame[value_column]
    time_missing = _is_missing(raw_time)
    blank = time_missing & _is_missing(raw_value)
    parsed_times = parse_times(
        raw_time,
        ~time_missing.to_numpy(),
        TimeOptions(options.timezone, options.time_format, options.dayfirst),
        lambda i: f"{path}: {label} {lines[i]}",
    )
    times = parsed_times.times
    values, value_text = _parse_values(raw_value)

    missing_value = _is_missing(raw_value) & ~blank
    bad_time = times.isna().to_numpy() & ~blank.to_numpy()
    bad_value = np.isnan(values) & ~missing_value.to_numpy() & ~blank.to_numpy()
    infinite = np.isinf(values)
    unusable = bad_time | bad_value | infinite
    problems = _problems(
        lines, raw_time, value_text, unusable, parsed_times.out_of_range, times, values
    )
    if problems and not options.skip_bad_rows:
        raise IngestError(_bad_rows_message(path, label, problems))

    keep = ~(blank.to_numpy() | bad_time | bad_value | infinite | missing_value.to_numpy())
    missing_lines = [int(x) for x in lines[missing_value.to_numpy() & ~bad_time]]
    kept = pd.DataFrame({"ts": times.to_numpy()[keep], "value": values[keep], "line": lines[keep]})
    was_unsorted = not kept["ts"].is_monotonic_increasing
    duplicates_dropped = _resolve_duplicates(path, label, kept, options.on_duplicate)
    if duplicates_dropped:
        keep_mode: Literal["first", "last"] = "last" if options.on_duplicate == "last" else "first"
        kept = kept.drop_duplicates(subset="ts", keep=keep_mode)
    kept = kept.sort_values("ts", kind="stable")
    index = pd.DatetimeIndex(kept["ts"], name="ts")
    points = pd.Series(kept["value"].to_numpy(dtype=float), index=index, name="value")
    if points.empty:
        raise IngestError(f"{path}: no usable rows (read {len(frame)} row(s))")
    return PointsFile(
        path=path,
        time_column=time_column,
        value_column=value_column,
        points=points,
        rows_read=int((~blank).sum()),
        line_label=label,
        bad_rows=problems,
        missing_value_lines=missing_lines,
        duplicates_dropped=duplicates_dropped,
        was_unsorted=was_unsorted,
        times_truncated=parsed_times.truncated,
        time_format=parsed_times.format,
    )


def _problems(
    lines: np.ndarray,
    raw_time: pd.Series,
    value_text: pd.Series,
    unusable: np.ndarray,
    out_of_range: np.ndarray,
    times: pd.Series,
    values: np.ndarray,
) -> list[RowProblem]:
    """Each unusable row's line and why: its time, else its value (cells cut short)."""
    problems: list[RowProblem] = []
    for i in np.flatnonzero(unusable):
        cell = raw_time.iloc[i]
        if out_of_range[i]:
            reason = (
                f"time {quoted(cell)} is outside {EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d}, "
                "the times the service can hold"
            )
        elif pd.isna(times.iloc[i]):
            reason = f"unparseable time {quoted(cell)}"
        elif np.isinf(values[i]):
            reason = f"infinite value {quoted(value_text.iloc[i])}"
        else:
            reason = f"unparseable value {quoted(value_text.iloc[i])}"
        problems.append(RowProblem(int(lines[i]), reason))
    return problems


def _read_table(path: Path) -> tuple[pd.DataFrame, int, str]:
    """The file's cells as text where possible, the number of its first data line, and a label."""
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if path.is_dir():
        raise IngestError(f"{path}: is a directory, not a file")
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path), 1, "row"
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            skipinitialspace=True,
            encoding="utf-8-sig",
        )
        return frame, 2, "line"  # line 1 is the header
    except pd.errors.EmptyDataError:
        raise IngestError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as exc:
        raise IngestError(f"{path}: malformed CSV: {_first_line(exc)}") from None
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (OSError, ValueError) as exc:
        raise IngestError(f"{path}: cannot read: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _choose_time_column(path: Path, columns: list[str], wanted: str | None) -> str:
    if wanted is not None:
        return _require_column(path, columns, wanted, "--time-column")
    lowered = {c.lower().strip(): c for c in columns}
    for candidate in TIME_COLUMN_CANDIDATES:
        if candidate in lowered:
            return lowered[candidate]
    raise IngestError(
        f"{path}: cannot tell which column holds the time (columns: {', '.join(columns)}); "
        "name it with --time-column"
    )


def _choose_value_column(
    path: Path, columns: list[str], time_column: str, wanted: str | None
) -> str:
    if wanted is not None:
        return _require_column(path, columns, wanted, "--value-column")
    lowered = {c.lower().strip(): c for c in columns}
    for candidate in VALUE_COLUMN_CANDIDATES:
        if candidate in lowered:
            return lowered[candidate]
    others = [c for c in columns if c != time_column]
    if len(others) == 1:
        return others[0]
    raise IngestError(
        f"{path}: cannot tell which column holds the values (columns: {', '.join(columns)}); "
        "name it with --value-column"
    )


def _require_column(path: Path, columns: list[str], wanted: str, option: str) -> str:
    if wanted in columns:
        return wanted
    raise IngestError(
        f"{path}: no column {quoted(wanted)} for {option} (columns: {', '.join(map(str, columns))})"
    )


def _is_missing(column: pd.Series) -> pd.Series:
    if column.dtype == object or pd.api.types.is_string_dtype(column):
        text = column.astype("string").str.strip().str.lower()
        return text.isna() | text.isin(MISSING_MARKERS)
    return column.isna()


def _parse_values(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        return values, column.astype("string")
    text = column.astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values, text


def _resolve_duplicates(path: Path, label: str, kept: pd.DataFrame, policy: DuplicatePolicy) -> int:
    duplicated = kept["ts"].duplicated(keep=False)
    if not duplicated.any():
        return 0
    groups = kept[duplicated].groupby("ts")["line"].apply(list)
    if policy == "error":
        examples = "; ".join(
            f"{cast(pd.Timestamp, ts).isoformat()} on {label}s {', '.join(map(str, lines))}"
            for ts, lines in list(groups.items())[:MAX_EXAMPLES]
        )
        raise IngestError(
            f"{path}: {len(groups)} timestamp(s) appear more than once: {examples}. "
            "Nothing was written; choose which to keep with --on-duplicate first|last"
        )
    return int(duplicated.sum() - len(groups))


def _bad_rows_message(path: Path, label: str, problems: list[RowProblem]) -> str:
    listed = "; ".join(f"{label} {p.line}: {p.reason}" for p in problems[:MAX_EXAMPLES])
    more = f" (and {len(problems) - MAX_EXAMPLES} more)" if len(problems) > MAX_EXAMPLES else ""
    return (
        f"{path}: {len(problems)} bad row(s): {listed}{more}. Nothing was written; "
        "use --skip-bad-rows to load the other rows"
    )
