"""A file's time column parsed with one format for every row: ISO 8601, the given format, or
one inferred once (day-first or month-first decided for the whole file), then checked."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from forecaster.errors import IngestError
from forecaster.messages import quoted
from forecaster.series.times import ensure_utc_index

# Times the rest of the service can hold (nanosecond timestamps): about 1677-09-22 .. 2262-04-11.
EARLIEST = pd.Timestamp.min.ceil("D").tz_localize("UTC")
LATEST = pd.Timestamp.max.floor("D").tz_localize("UTC")
_OFFSET_PATTERN = r"(?:Z|[+-]\d{2}:?\d{2})$"
_GUESS_SAMPLES = 20  # cells tried, in order, to guess a non-ISO format from
_ISO_SHARE = 0.5  # a column whose cells are mostly ISO 8601 is read as ISO 8601

# Where a cell of the column is, for messages: "points.csv: line 7".
Locate = Callable[[int], str]


@dataclass(frozen=True)
class TimeOptions:
    """How to read a time column: a strptime `format`, or ISO 8601 / an inferred format, with
    `dayfirst` deciding dates like 01/02/2020 (None: an error when the file does not tell)."""

    timezone: str = "UTC"
    format: str | None = None
    dayfirst: bool | None = None


@dataclass(frozen=True)
class ParsedTimes:
    """UTC times (NaT where a cell is unparseable or out of range), which cells are out of
    range, how many lost digits below a microsecond, and the format read."""

    times: pd.Series
    out_of_range: np.ndarray
    truncated: int
    format: str


def parse_times(
    column: pd.Series, present: np.ndarray, options: TimeOptions, locate: Locate
) -> ParsedTimes:
    """Parse `column` (its `present` cells hold a time) with one format for every row."""
    if pd.api.types.is_datetime64_any_dtype(column):
        index = _localize(pd.DatetimeIndex(column), options.timezone)
        return _checked(pd.Series(index, index=column.index), "native timestamps")
    text = column.astype("string").str.strip()
    if options.format is not None:
        try:
            parsed, name = _apply(text, options.format), options.format
        except ValueError as exc:  # a bad directive such as %Q
            raise IngestError(f"--time-format {quoted(options.format)}: {exc}") from None
    else:
        parsed, name = _iso_or_inferred(text, present, options.dayfirst, locate)
    if options.timezone != "UTC":
        parsed = _in_zone(text, parsed, name, options.timezone)
    return _checked(parsed, name)


def _iso_or_inferred(
    text: pd.Series, present: np.ndarray, dayfirst: bool | None, locate: Locate
) -> tuple[pd.Series, str]:
    iso = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    failed = iso.isna().to_numpy() & present
    if not present.any() or failed.sum() <= _ISO_SHARE * present.sum():
        return iso, "ISO 8601"
    candidates = _candidate_formats(text[present], dayfirst)
    if not candidates:
        return iso, "ISO 8601"  # nothing else fits: the rows are reported as unparseable
    if dayfirst is not None and len(candidates) == 2:
        chosen = next(f for f in candidates if _is_dayfirst(f) == dayfirst)
        return _apply(text, chosen), chosen
    parsed = [_apply(text, f) for f in candidates]
    failures = [int((p.isna().to_numpy() & present).sum()) for p in parsed]
    best = int(np.argmin(failures))
    if len(candidates) == 2 and failures[0] == failures[1]:
        _refuse_ambiguous(text, parsed, candidates, locate)
    return parsed[best], candidates[best]


def _candidate_formats(cells: pd.Series, dayfirst: bool | None) -> list[str]:
    """The format pandas guesses from the first cells, and for dates starting with day and
    month, the same with day and month swapped."""
    for cell in cells.iloc[:_GUESS_SAMPLES]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns when dayfirst disagrees
            guessed = guess_datetime_format(str(cell), dayfirst=bool(dayfirst))
        if guessed is None:
            continue
        day, month, year = (guessed.find(code) for code in ("%d", "%m", "%Y"))
        if year < 0:
            year = guessed.find("%y")
        if min(day, month) < 0 or year < max(day, month):
            return [guessed]
        swapped = guessed.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
        return [guessed, swapped]
    return []


def _is_dayfirst(format: str) -> bool:
    return format.find("%d") < format.find("%m")


def _refuse_ambiguous(
    text: pd.Series, parsed: list[pd.Series], formats: list[str], locate: Locate
) -> None:
    """Both readings fit every row: an error naming a row they read differently (none: the
    file reads the same either way and the first format is as good as the other)."""
    first, second = parsed
    differs = (first.notna() & second.notna() & (first != second)).to_numpy()
    if not differs.any():
        return
    i = int(np.flatnonzero(differs)[0])
    readings = " or ".join(
        f"{p.iloc[i]:%Y-%m-%d} ({'day' if _is_dayfirst(f) else 'month'} first)"
        for p, f in zip(parsed, formats, strict=True)
    )
    raise IngestError(
        f"{locate(i)}: the dates are ambiguous: {quoted(text.iloc[i])} reads as {readings}; "
        "say which with --dayfirst or --monthfirst (or give --time-format, e.g. "
        f"{quoted(formats[1])})"
    )


def _apply(text: pd.Series, format: str) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(text, errors="coerce", format=format, utc=True)


def _in_zone(text: pd.Series, parsed: pd.Series, format: str, timezone: str) -> pd.Series:
    """Cells without an offset were read as UTC wall-clock times: read them in `timezone`."""
    if format == "ISO 8601":
        has_offset = text.str.contains(_OFFSET_PATTERN, regex=True, na=False).to_numpy()
    else:
        has_offset = np.full(len(text), "%z" in format or "%Z" in format)
    wall_clock = pd.DatetimeIndex(parsed).tz_localize(None)
    local = _localize(wall_clock, timezone)
    result = np.where(has_offset, pd.DatetimeIndex(parsed), local)
    return pd.Series(pd.DatetimeIndex(result, tz="UTC"), index=text.index)


def _localize(index: pd.DatetimeIndex, timezone: str) -> pd.DatetimeIndex:
    try:
        return ensure_utc_index(index, timezone)
    except Exception as exc:  # pytz/zoneinfo raise several types for an unknown zone
        raise IngestError(f"unknown --timezone {quoted(timezone)}: {exc}") from None


def _checked(parsed: pd.Series, format: str) -> ParsedTimes:
    """Times outside what the service can hold become NaT (and are flagged); digits below a
    microsecond (the databases' precision) are cut off and counted."""
    out_of_range = (parsed.notna() & ((parsed < EARLIEST) | (parsed > LATEST))).to_numpy()
    parsed = parsed.where(~out_of_range)
    truncated = 0
    if parsed.dt.unit == "ns":
        floored = parsed.dt.floor("us")
        truncated = int((floored != parsed).fillna(False).sum())
        parsed = floored
    return ParsedTimes(times=parsed, out_of_range=out_of_range, truncated=truncated, format=format)
