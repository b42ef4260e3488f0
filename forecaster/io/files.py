"""Read (time, value) points from a CSV or Parquet file, validating every row."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pandas as pd

from forecaster.errors import IngestError
from forecaster.series.times import ensure_utc_index
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
    blank = _is_missing(raw_time) & _is_missing(raw_value)
    times = _parse_times(raw_time, options.timezone)
    values, value_text = _parse_values(raw_value)

    missing_value = _is_missing(raw_value) & ~blank
    bad_time = times.isna().to_numpy() & ~blank
    bad_value = np.isnan(values) & ~missing_value.to_numpy() & ~blank.to_numpy()
    infinite = np.isinf(values)

    problems: list[RowProblem] = []
    for i in np.flatnonzero(bad_time | bad_value | infinite):
        if bad_time[i]:
            problems.append(RowProblem(int(lines[i]), f"unparseable time {raw_time.iloc[i]!r}"))
        elif infinite[i]:
            problems.append(RowProblem(int(lines[i]), f"infinite value {value_text.iloc[i]!r}"))
        else:
            problems.append(RowProblem(int(lines[i]), f"unparseable value {value_text.iloc[i]!r}"))
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
    )


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
        f"{path}: no column {wanted!r} for {option} (columns: {', '.join(map(str, columns))})"
    )


def _is_missing(column: pd.Series) -> pd.Series:
    if column.dtype == object or pd.api.types.is_string_dtype(column):
        text = column.astype("string").str.strip().str.lower()
        return text.isna() | text.isin(MISSING_MARKERS)
    return column.isna()


def _parse_times(column: pd.Series, timezone: str) -> pd.Series:
    """Times as UTC; NaT where a cell cannot be parsed or is ambiguous in `timezone`.

    Cells with an explicit offset keep it; cells without one are wall-clock times in `timezone`.
    """
    if pd.api.types.is_datetime64_any_dtype(column):
        return pd.Series(_localize(pd.DatetimeIndex(column), timezone), index=column.index)
    text = column.astype("string").str.strip()
    as_utc = _to_utc(text)
    if timezone == "UTC":
        return as_utc
    has_offset = text.str.contains(_OFFSET_PATTERN, regex=True, na=False).to_numpy()
    # Offset-less cells were read as UTC wall-clock: re-read that wall clock in `timezone`.
    wall_clock = pd.DatetimeIndex(as_utc).tz_localize(None)
    local = _localize(wall_clock, timezone)
    result = np.where(has_offset, pd.DatetimeIndex(as_utc), local)
    return pd.Series(pd.DatetimeIndex(result, tz="UTC"), index=column.index)


_OFFSET_PATTERN = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _to_utc(text: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    if parsed.isna().mean() > 0.5:
        # Not ISO 8601 (e.g. 01/02/1990): let pandas infer the format per element.
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    return parsed


def _localize(index: pd.DatetimeIndex, timezone: str) -> pd.DatetimeIndex:
    try:
        return ensure_utc_index(index, timezone)
    except Exception as exc:  # pytz/zoneinfo raise several types for an unknown zone
        raise IngestError(f"unknown --timezone {timezone!r}: {exc}") from None


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
