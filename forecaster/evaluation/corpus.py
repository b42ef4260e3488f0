"""A labelled NAB-format corpus: data files and their anomaly windows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from forecaster.errors import ForecasterError
from forecaster.vocabulary import MAX_EXAMPLES

# The scoring rules follow NAB v1.x `nab/sweeper.py` (the code NAB's scorer runs) and the
# normalisation of `nab/runner.py`; the cost matrices are those of NAB's `config/profiles.json`.
# NAB works on row numbers of the data file: every timestamp below is first mapped to a row.
#
# Window := (start, end), both inclusive, UTC.
Window = tuple[pd.Timestamp, pd.Timestamp]


Event = tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class LabelledFile:
    """One data file of a NAB-style corpus and its labelled anomaly windows (UTC, sorted)."""

    key: str  # "category/file.csv", the key of the labels file
    path: Path
    category: str
    windows: list[Window] = field(default_factory=list)


def load_corpus(data_dir: Path, labels_path: Path) -> list[LabelledFile]:
    """Find ``data_dir/<category>/*.csv`` and attach each file's windows from ``labels_path``.

    The labels file is NAB's ``combined_windows.json``: an object mapping "category/file.csv"
    to a list of ``[start, end]`` timestamp strings. Naive timestamps are taken as UTC.

    Labels entries without a CSV are ignored (a full NAB labels file may be used with a subset
    of the data). A CSV without a labels entry is an error: scoring it as "no anomaly" would
    silently reward a detector that stays quiet, so ForecasterError names up to five of them.
    Files come back sorted by key.
    """
    data_dir = Path(data_dir)
    labels_path = Path(labels_path)
    if not data_dir.is_dir():
        raise ForecasterError(f"NAB data directory {data_dir} does not exist or is not a directory")
    csv_paths = sorted(p for p in data_dir.glob("*/*.csv") if p.is_file())
    if not csv_paths:
        raise ForecasterError(
            f"no CSV files found in {data_dir}: expected {data_dir}/<category>/<file>.csv"
        )
    labels = _read_windows_file(labels_path)

    files: list[LabelledFile] = []
    unlabelled: list[str] = []
    for path in csv_paths:
        key = f"{path.parent.name}/{path.name}"
        if key not in labels:
            unlabelled.append(key)
            continue
        files.append(LabelledFile(key, path, path.parent.name, labels[key]))
    if unlabelled:
        shown = ", ".join(unlabelled[:MAX_EXAMPLES])
        more = (
            f" and {len(unlabelled) - MAX_EXAMPLES} more" if len(unlabelled) > MAX_EXAMPLES else ""
        )
        raise ForecasterError(
            f"{len(unlabelled)} CSV file(s) in {data_dir} have no entry in labels file "
            f"{labels_path}: {shown}{more}"
        )
    return files


def _read_windows_file(labels_path: Path) -> dict[str, list[Window]]:
    if not labels_path.is_file():
        raise ForecasterError(f"NAB labels file {labels_path} does not exist")
    try:
        raw = json.loads(labels_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ForecasterError(
            f"labels file {labels_path} is not valid JSON: {exc.msg} "
            f"(line {exc.lineno}, column {exc.colno})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ForecasterError(f"labels file {labels_path} cannot be read: {exc}") from None
    if not isinstance(raw, dict):
        raise ForecasterError(
            f"labels file {labels_path} must hold a JSON object mapping 'category/file.csv' to a "
            f"list of [start, end] windows, not a {type(raw).__name__}"
        )
    windows: dict[str, list[Window]] = {}
    for key, entries in raw.items():
        where = f"labels file {labels_path}, key {key!r}"
        if not isinstance(entries, list):
            raise ForecasterError(f"{where}: expected a list of [start, end] windows")
        parsed: list[Window] = []
        for i, entry in enumerate(entries):
            if not (isinstance(entry, list) and len(entry) == 2):
                raise ForecasterError(f"{where}, window {i}: expected [start, end], got {entry!r}")
            try:
                start, end = to_utc(entry[0]), to_utc(entry[1])
            except (TypeError, ValueError) as exc:
                raise ForecasterError(f"{where}, window {i}: bad timestamp: {exc}") from None
            if start > end:
                raise ForecasterError(f"{where}, window {i}: start {start} is after end {end}")
            parsed.append((start, end))
        windows[key] = sorted(parsed)
    return windows


def read_nab_series(path: Path) -> pd.Series:
    """A NAB CSV (``timestamp,value``) as a float Series on a UTC DatetimeIndex.

    Rows are kept exactly as in the file (order, duplicates) because NAB scores by row: two
    NAB files repeat timestamps (a DST change, a replayed hour). Naive timestamps are UTC.
    """
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ForecasterError(f"NAB data file {path} cannot be read: {exc}") from None
    missing = {"timestamp", "value"} - set(frame.columns)
    if missing:
        raise ForecasterError(
            f"NAB data file {path} lacks column(s) {sorted(missing)}; has {list(frame.columns)}"
        )
    try:
        index = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"]))
    except (TypeError, ValueError) as exc:
        raise ForecasterError(f"NAB data file {path}: bad timestamp: {exc}") from None
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
    return pd.Series(values, index=utc_index(index), name="value")


def to_utc(value: Any) -> pd.Timestamp:
    """A pandas Timestamp in UTC; a naive value is taken to be UTC already."""
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError(f"{value!r} is not a timestamp")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def utc_index(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The index in UTC; a naive index is taken to be UTC already."""
    return index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
