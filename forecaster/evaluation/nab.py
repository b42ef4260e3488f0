"""Numenta Anomaly Benchmark (NAB) scoring of detections against labelled windows; pure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecaster.errors import ForecasterError
from forecaster.evaluation.corpus import Window, to_utc, utc_index

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
    # First row at or after t == first row where the running maximum reaches t, for files
    # whose timestamps go back in time too.
    reach = np.maximum.accumulate(ts) if len(ts) else ts
    probation = probation_rows(len(ts), probation_percent)
    # All windows that cover rows locate FPs (as NAB's sweeper does); only those reaching past
    # the probationary period are scored as TP or FN.
    spans, no_rows = _window_rows(ts, reach, windows)
    rows, ignored, repeated = _detection_rows(reach, detections, probation)
    detected = _score_detections(rows, spans, prof)
    scored = _score_windows(spans, detected.best_tp, probation, prof)
    return FileScore(
        profile=prof.name,
        raw=scored.tp_score + detected.fp_score + scored.fn_score,
        null=-prof.a_fn * scored.windows,
        perfect=scored.perfect,
        tp=len(detected.best_tp),
        fp=detected.fp,
        fn=scored.fn,
        tp_score=scored.tp_score,
        fp_score=detected.fp_score,
        fn_score=scored.fn_score,
        redundant=repeated + detected.redundant,
        ignored=ignored,
        rows=len(ts),
        probation_rows=probation,
        windows_unscored=no_rows + len(spans) - scored.windows,
    )


@dataclass
class _DetectionScores:
    """What a file's detections score: the best TP per window, and the FPs outside windows."""

    best_tp: dict[int, float] = field(default_factory=dict)  # by index of the window's span
    fp: int = 0
    fp_score: float = 0.0
    redundant: int = 0  # detections in an already detected window


@dataclass(frozen=True)
class _WindowScores:
    """What a file's scored windows (those reaching past the probationary period) add up to."""

    windows: int
    tp_score: float
    fn: int
    fn_score: float
    perfect: float


def _detection_rows(
    reach: np.ndarray, detections: Iterable[pd.Timestamp], probation: int
) -> tuple[list[int], int, int]:
    """The distinct rows the usable detections snap to (sorted), how many detections are
    ignored (in the probationary period or after the last row), and how many repeat a row."""
    n = len(reach)
    det_times = np.array(
        [to_utc(d).as_unit("ns").value for d in detections], dtype=np.int64
    ).reshape(-1)
    det_rows = np.searchsorted(reach, det_times, side="left") if n else np.full(len(det_times), 0)
    usable = (det_rows < n) & (det_rows >= probation)
    ignored = int(np.count_nonzero(~usable))
    unique_rows = np.unique(det_rows[usable])
    return unique_rows.tolist(), ignored, int(np.count_nonzero(usable)) - len(unique_rows)


def _score_detections(
    rows: list[int], spans: list[tuple[int, int]], prof: Profile
) -> _DetectionScores:
    """Score detections at `rows` (distinct, sorted) against the window `spans` (sorted)."""
    lefts = np.array([left for left, _ in spans], dtype=np.int64)
    rights = np.array([right for _, right in spans], dtype=np.int64)
    scores = _DetectionScores()
    for row in rows:
        j = int(np.searchsorted(lefts, row, side="right")) - 1
        if j >= 0 and row <= rights[j]:
            width = float(rights[j] - lefts[j] + 1)
            score = scaled_sigmoid(-(rights[j] - row + 1) / width) * prof.a_tp / MAX_TP
            if j in scores.best_tp:
                scores.redundant += 1
                scores.best_tp[j] = max(scores.best_tp[j], score)
            else:
                scores.best_tp[j] = score
            continue
        scores.fp += 1
        scores.fp_score += scaled_sigmoid(_fp_position(row, lefts, rights)) * prof.a_fp
    return scores


def _fp_position(row: int, lefts: np.ndarray, rights: np.ndarray) -> float:
    """Where a FP at `row` lies after the closest preceding window, in that window's widths."""
    prev = int(np.searchsorted(rights, row, side="left")) - 1
    if prev < 0:
        return FAR_POSITION
    prev_width = float(rights[prev] - lefts[prev] + 1)
    return (row - rights[prev]) / max(prev_width - 1.0, 1.0)


def _score_windows(
    spans: list[tuple[int, int]], best_tp: dict[int, float], probation: int, prof: Profile
) -> _WindowScores:
    """TP and FN scores of the windows that reach past the probationary period, and what a
    detection at the first scorable row of each would score (the perfect detector)."""
    scored = [j for j, (_, right) in enumerate(spans) if right >= probation]
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
    return _WindowScores(
        windows=len(scored),
        tp_score=tp_score,
        fn=fn,
        fn_score=-prof.a_fn * fn,
        perfect=perfect,
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
