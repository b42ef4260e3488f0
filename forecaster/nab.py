"""Numenta Anomaly Benchmark (NAB) scoring and event-overlap metrics for detections; pure."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
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

PROBATION_PERCENT = 0.15  # NAB: the first 15% of a file's rows are the detector's warm-up...
PROBATION_ROWS_CAP_FROM = 5000  # ...capped at 15% of 5000 rows = 750 rows (NAB's formula)
SIGMOID_STEEPNESS = 5.0  # NAB's scaled sigmoid: 2·sigmoid(-5·x) - 1
FAR_POSITION = 3.0  # NAB: at a relative position ≥ 3 (far after a window) a FP costs the full A_FP


@dataclass(frozen=True)
class Profile:
    """One NAB application profile: the weights of true/false positives and false negatives.

    ``a_tn`` is kept for parity with NAB's cost matrix; NAB's scorer never uses it.
    """

    name: str
    a_tp: float
    a_fp: float
    a_fn: float
    a_tn: float = 1.0


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", a_tp=1.0, a_fp=0.11, a_fn=1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", a_tp=1.0, a_fp=0.22, a_fn=1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", a_tp=1.0, a_fp=0.11, a_fn=2.0),
}


def get_profile(profile: Profile | str) -> Profile:
    """The profile itself, or the NAB profile with that name (ForecasterError if unknown)."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ForecasterError(f"unknown NAB profile {profile!r}; known: {known}") from None


# --------------------------------------------------------------------------- corpus loading


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


# --------------------------------------------------------------------------- NAB scoring


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: 2·sigmoid(-5·position) - 1, and exactly -1 from position 3 on.

    Position -1 is the first row of a window (≈ 0.9866), 0 its right edge (0), positive values
    lie after a window, measured in window widths.
    """
    if position >= FAR_POSITION:
        return -1.0
    return 2.0 / (1.0 + math.exp(SIGMOID_STEEPNESS * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probation_rows(n_rows: int, percent: float = PROBATION_PERCENT) -> int:
    """NAB's probationary period: min(floor(0.15·rows), 750) rows whose detections are ignored."""
    return int(min(math.floor(percent * n_rows), percent * PROBATION_ROWS_CAP_FROM))


@dataclass(frozen=True)
class FileScore:
    """The NAB score of one file's detections under one profile, with its parts.

    ``tp``/``fn`` count scored windows (detected / missed), ``fp`` counts rows detected outside
    any window. ``null`` is what a detector that never fires scores (-A_FN per scored window),
    ``perfect`` what one detection at the first scorable row of every window scores (A_TP per
    window). A window is scored when some of its rows lie after the probationary period.
    """

    profile: str
    raw: float
    null: float
    perfect: float
    tp: int
    fp: int
    fn: int
    tp_score: float
    fp_score: float
    fn_score: float
    redundant: int  # detections in an already detected window, or on an already detected row
    ignored: int  # detections in the probationary period or after the last row
    rows: int
    probation_rows: int
    windows_unscored: int  # windows inside the probationary period or between/outside rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "raw": self.raw,
            "null": self.null,
            "perfect": self.perfect,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tp_score": self.tp_score,
            "fp_score": self.fp_score,
            "fn_score": self.fn_score,
            "redundant": self.redundant,
            "ignored": self.ignored,
            "rows": self.rows,
            "probation_rows": self.probation_rows,
            "windows_unscored": self.windows_unscored,
        }


def score_file(
    timestamps: pd.DatetimeIndex,
    windows: Sequence[Window],
    detections: Iterable[pd.Timestamp],
    profile: Profile | str = "standard",
    probation_percent: float = PROBATION_PERCENT,
) -> FileScore:
    """Score detections (the start time of each detected anomaly) on one file the way NAB does.

    ``timestamps`` are the file's rows in file order (duplicates and out-of-order rows allowed,
    as in NAB's own files); naive values are UTC. With S = ``scaled_sigmoid``, and on rows as
    in NAB's sweeper:

    - a window covers the rows from the first row at or after its start to its end row (the
      first row equal to its end, else the last row before one later than its end);
    - a detection is snapped to the first row at or after its time; one after the last row,
      or within the first ``probation_rows(len(timestamps))`` rows, is ignored;
    - in a window of width W the earliest detection, at row i, scores
      A_TP · S(-(right - i + 1)/W) / S(-1); later detections in that window add nothing;
    - a missed window scores -A_FN;
    - a detection outside every window scores A_FP · S((i - right_prev)/(W_prev - 1)) after
      the closest preceding window (≈ 0 just after it, → -A_FP far after it), and -A_FP
      when no window precedes it. (NAB divides by zero for a one-row window; here W_prev - 1
      is taken as at least 1.)

    Raises ValueError on overlapping windows, ForecasterError on an unknown profile name.
    """
    prof = get_profile(profile)
    ts = utc_index(pd.DatetimeIndex(timestamps)).as_unit("ns").asi8
    n = len(ts)
    # First row at or after t == first row where the running maximum reaches t, for files
    # whose timestamps go back in time too.
    reach = np.maximum.accumulate(ts) if n else ts
    probation = probation_rows(n, probation_percent)

    # All windows that cover rows locate FPs (as NAB's sweeper does); only those reaching past
    # the probationary period are scored as TP or FN.
    spans, no_rows = _window_rows(ts, reach, windows)
    scored = [j for j, (_, right) in enumerate(spans) if right >= probation]
    unscored = no_rows + len(spans) - len(scored)
    lefts = np.array([left for left, _ in spans], dtype=np.int64)
    rights = np.array([right for _, right in spans], dtype=np.int64)

    det_times = np.array(
        [to_utc(d).as_unit("ns").value for d in detections], dtype=np.int64
    ).reshape(-1)
    det_rows = np.searchsorted(reach, det_times, side="left") if n else np.full(len(det_times), 0)
    usable = (det_rows < n) & (det_rows >= probation)
    ignored = int(np.count_nonzero(~usable))
    unique_rows = np.unique(det_rows[usable])
    redundant = int(np.count_nonzero(usable)) - len(unique_rows)

    best_tp: dict[int, float] = {}
    fp = 0
    fp_score = 0.0
    for row in unique_rows.tolist():
        j = int(np.searchsorted(lefts, row, side="right")) - 1
        if j >= 0 and row <= rights[j]:
            width = float(rights[j] - lefts[j] + 1)
            score = scaled_sigmoid(-(rights[j] - row + 1) / width) * prof.a_tp / MAX_TP
            if j in best_tp:
                redundant += 1
                best_tp[j] = max(best_tp[j], score)
            else:
                best_tp[j] = score
            continue
        fp += 1
        prev = int(np.searchsorted(rights, row, side="left")) - 1
        if prev < 0:
            position = FAR_POSITION
        else:
            prev_width = float(rights[prev] - lefts[prev] + 1)
            position = (row - rights[prev]) / max(prev_width - 1.0, 1.0)
        fp_score += scaled_sigmoid(position) * prof.a_fp

    tp_score = 0.0
    fn = 0
    perfect = 0.0
    for j in scored:
        left, right = spans[j]
        first = max(left, probation)
        width = float(right - left + 1)
        perfect += scaled_sigmoid(-(right - first + 1) / width) * prof.a_tp / MAX_TP
        if j in best_tp:
            tp_score += best_tp[j]
        else:
            fn += 1
    fn_score = -prof.a_fn * fn
    return FileScore(
        profile=prof.name,
        raw=tp_score + fp_score + fn_score,
        null=-prof.a_fn * len(scored),
        perfect=perfect,
        tp=len(best_tp),
        fp=fp,
        fn=fn,
        tp_score=tp_score,
        fp_score=fp_score,
        fn_score=fn_score,
        redundant=redundant,
        ignored=ignored,
        rows=n,
        probation_rows=probation,
        windows_unscored=unscored,
    )


def _window_rows(
    ts: np.ndarray, reach: np.ndarray, windows: Sequence[Window]
) -> tuple[list[tuple[int, int]], int]:
    """Row spans (left, right) of the windows that cover rows, sorted, and how many cover none."""
    spans: list[tuple[int, int]] = []
    no_rows = 0
    n = len(ts)
    for start, end in sorted((to_utc(s), to_utc(e)) for s, e in windows):
        if start > end:
            raise ValueError(f"window start {start} is after its end {end}")
        start_ns, end_ns = start.as_unit("ns").value, end.as_unit("ns").value
        left = int(np.searchsorted(reach, start_ns, side="left")) if n else 0
        right = int(np.searchsorted(reach, end_ns, side="right")) - 1 if n else -1
        if left >= n or right < left:
            no_rows += 1  # the window lies between two rows or outside the file
            continue
        exact = np.flatnonzero(ts[left : right + 1] == end_ns)
        if exact.size:
            right = left + int(exact[0])  # NAB ends a window at the first row equal to its end
        if spans and left <= spans[-1][1]:
            raise ValueError(f"window ({start}, {end}) overlaps the window before it")
        spans.append((left, right))
    return spans, no_rows


def normalised_scores(results: Iterable[FileScore], profile: Profile | str) -> float | None:
    """NAB's normalised score of a corpus: 100·(raw - null)/(perfect - null), summed over files.

    0 is the detector that never fires, 100 one detection at the start of every window; FPs
    can push it below 0. None when no file has a scored window (the ratio is undefined, e.g. a
    single file or category without anomalies). Raises ValueError if a result was scored under
    another profile.
    """
    name = get_profile(profile).name
    raw = null = perfect = 0.0
    for result in results:
        if result.profile != name:
            raise ValueError(f"a result scored under profile {result.profile!r}, not {name!r}")
        raw += result.raw
        null += result.null
        perfect += result.perfect
    if perfect - null <= 0.0:
        return None
    return 100.0 * (raw - null) / (perfect - null)


# --------------------------------------------------------------------------- event overlap


@dataclass(frozen=True)
class OverlapCounts:
    """Event-level counts: labelled windows found by some event, events touching some window.

    Zero divisions: precision is 1 with no events (no false alarm was raised), recall is 1 with
    no windows (nothing to find), F1 is 0 when precision + recall is 0. So a file with neither
    windows nor events scores 1/1/1 and, pooled, adds nothing to a total.
    """

    windows: int = 0
    windows_found: int = 0
    events: int = 0
    events_matched: int = 0

    def __add__(self, other: OverlapCounts) -> OverlapCounts:
        return OverlapCounts(
            self.windows + other.windows,
            self.windows_found + other.windows_found,
            self.events + other.events,
            self.events_matched + other.events_matched,
        )

    @property
    def false_positives(self) -> int:
        return self.events - self.events_matched

    @property
    def precision(self) -> float:
        return self.events_matched / self.events if self.events else 1.0

    @property
    def recall(self) -> float:
        return self.windows_found / self.windows if self.windows else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2.0 * p * r / (p + r) if p + r > 0.0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "windows_found": self.windows_found,
            "events": self.events,
            "events_matched": self.events_matched,
            "false_positives": self.false_positives,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def event_overlap(windows: Sequence[Window], events: Sequence[Event]) -> OverlapCounts:
    """Count windows overlapped by some event and events overlapping some window.

    Both are closed intervals [start, end] (naive times are UTC): they overlap when
    event.start ≤ window.end and event.end ≥ window.start. There is no probationary period here.
    """
    spans = [(to_utc(s), to_utc(e)) for s, e in windows]
    evs = [(to_utc(s), to_utc(e)) for s, e in events]
    for start, end in [*spans, *evs]:
        if start > end:
            raise ValueError(f"interval start {start} is after its end {end}")
    found = sum(1 for ws, we in spans if any(es <= we and ee >= ws for es, ee in evs))
    matched = sum(1 for es, ee in evs if any(es <= we and ee >= ws for ws, we in spans))
    return OverlapCounts(len(spans), found, len(evs), matched)


# --------------------------------------------------------------------------- corpus report


@dataclass(frozen=True)
class NabTotals:
    """Summed NAB scores of a group of files under one profile, and its normalised score."""

    raw: float
    null: float
    perfect: float
    score: float | None  # normalised; None when the group has no scored window
    tp: int
    fp: int
    fn: int

    @classmethod
    def of(cls, results: Sequence[FileScore], profile: Profile | str) -> NabTotals:
        return cls(
            raw=sum(r.raw for r in results),
            null=sum(r.null for r in results),
            perfect=sum(r.perfect for r in results),
            score=normalised_scores(results, profile),
            tp=sum(r.tp for r in results),
            fp=sum(r.fp for r in results),
            fn=sum(r.fn for r in results),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "raw": self.raw,
            "null": self.null,
            "perfect": self.perfect,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(frozen=True)
class FileReport:
    """One file: NAB score per profile and event overlap."""

    key: str
    category: str
    nab: dict[str, FileScore]
    overlap: OverlapCounts

    def normalised(self, profile: str) -> float | None:
        return normalised_scores([self.nab[profile]], profile)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "category": self.category,
            "nab": {
                name: {"score": self.normalised(name), **score.to_dict()}
                for name, score in self.nab.items()
            },
            "events": self.overlap.to_dict(),
        }


@dataclass(frozen=True)
class GroupReport:
    """A category or the whole corpus: NAB totals per profile, pooled event counts."""

    files: int
    nab: dict[str, NabTotals]
    overlap: OverlapCounts

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "nab": {name: totals.to_dict() for name, totals in self.nab.items()},
            "events": self.overlap.to_dict(),
        }


@dataclass(frozen=True)
class CorpusReport:
    """Per file, per category and total results of one evaluation."""

    profiles: list[str]
    files: list[FileReport]
    categories: dict[str, GroupReport]
    total: GroupReport

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``json.dumps`` works as is); undefined normalised scores are null."""
        return {
            "profiles": list(self.profiles),
            "total": self.total.to_dict(),
            "categories": {name: group.to_dict() for name, group in self.categories.items()},
            "files": [report.to_dict() for report in self.files],
        }


def evaluate_corpus(
    files: Sequence[LabelledFile],
    detections_by_key: Mapping[str, Sequence[pd.Timestamp]],
    events_by_key: Mapping[str, Sequence[Event]],
    timestamps_by_key: Mapping[str, pd.DatetimeIndex],
    profiles: Sequence[str] | None = None,
) -> CorpusReport:
    """Score every file under every profile (all three NAB profiles by default).

    A file with no entry in ``detections_by_key`` / ``events_by_key`` had no detection / event.
    Every file needs its rows in ``timestamps_by_key``; a key there or in the detections or
    events that names no file is a ForecasterError (most likely a typo or a stale result).
    Category and corpus totals pool counts and raw scores, they never average file ratios.
    """
    names = [get_profile(p).name for p in (profiles if profiles is not None else PROFILES)]
    known = {f.key for f in files}
    for what, mapping in (
        ("detections", detections_by_key),
        ("events", events_by_key),
        ("timestamps", timestamps_by_key),
    ):
        stray = sorted(set(mapping) - known)
        if stray:
            raise ForecasterError(
                f"{what} given for {len(stray)} key(s) not in the corpus: "
                + ", ".join(stray[:MAX_EXAMPLES])
            )
    missing = sorted(known - set(timestamps_by_key))
    if missing:
        raise ForecasterError(
            f"no timestamps for {len(missing)} corpus file(s): " + ", ".join(missing[:MAX_EXAMPLES])
        )

    reports: list[FileReport] = []
    for file in sorted(files, key=lambda f: f.key):
        detections = list(detections_by_key.get(file.key, []))
        events = list(events_by_key.get(file.key, []))
        timestamps = timestamps_by_key[file.key]
        try:
            nab = {name: score_file(timestamps, file.windows, detections, name) for name in names}
            overlap = event_overlap(file.windows, events)
        except (TypeError, ValueError) as exc:
            raise ForecasterError(f"cannot score {file.key}: {exc}") from None
        reports.append(FileReport(file.key, file.category, nab, overlap))

    def group(members: Sequence[FileReport]) -> GroupReport:
        overlap = sum((m.overlap for m in members), OverlapCounts())
        nab = {name: NabTotals.of([m.nab[name] for m in members], name) for name in names}
        return GroupReport(len(members), nab, overlap)

    categories = sorted({r.category for r in reports})
    return CorpusReport(
        profiles=names,
        files=reports,
        categories={c: group([r for r in reports if r.category == c]) for c in categories},
        total=group(reports),
    )
