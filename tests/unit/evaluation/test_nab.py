"""NAB scoring, event overlap, corpus loading and the rolling-sigma baseline; no database."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import ForecasterError
from forecaster.evaluation.baseline import rolling_sigma_events
from forecaster.evaluation.corpus import LabelledFile, load_corpus, read_nab_series
from forecaster.evaluation.nab import (
    PROFILES,
    FileScore,
    normalised_scores,
    probation_rows,
    scaled_sigmoid,
    score_file,
)
from forecaster.evaluation.overlap import OverlapCounts, event_overlap
from forecaster.evaluation.report import evaluate_corpus

# A 1000-row file, one row a minute: probation is floor(0.15·1000) = 150 rows, and one
# labelled window covers rows 400..499 (width 100).
TS = pd.date_range("2024-01-01", periods=1000, freq="1min", tz="UTC")
WINDOW = (TS[400], TS[499])
A_FP = PROFILES["standard"].a_fp


def score(rows: list[int], profile: str = "standard") -> FileScore:
    return score_file(TS, [WINDOW], [TS[r] for r in rows], profile)


def minutes(a: int, b: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    return (TS[a], TS[b])


# --------------------------------------------------------------------------- NAB rules


def test_scaled_sigmoid_matches_nab_documented_values() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0


def test_probationary_length_is_15_percent_capped_at_750() -> None:
    assert probation_rows(1000) == 150
    assert probation_rows(4032) == 604
    assert probation_rows(22695) == 750


def test_null_detector_scores_zero_and_perfect_scores_100() -> None:
    null = score([])
    assert (null.raw, null.null, null.perfect) == (-1.0, -1.0, 1.0)
    assert (null.tp, null.fp, null.fn) == (0, 0, 1)
    assert normalised_scores([null], "standard") == 0.0

    perfect = score([400])
    assert perfect.raw == 1.0
    assert (perfect.tp, perfect.fp, perfect.fn) == (1, 0, 0)
    assert normalised_scores([perfect], "standard") == 100.0


def test_true_positive_weight_falls_through_the_window() -> None:
    half = score([450])
    assert half.raw == pytest.approx(0.84828 / 0.98661, abs=1e-5)  # position -0.5
    at_end = score([499])
    assert 0.0 < at_end.raw < 0.03  # position -1/100, just left of the right edge
    raws = [score([r]).raw for r in range(400, 500, 9)]
    assert all(a > b for a, b in itertools.pairwise(raws))


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    once = score([420])
    again = score([420, 421, 480, 499])
    assert again.raw == once.raw
    assert (again.tp, again.fp, again.redundant) == (1, 0, 3)


def test_false_positive_far_from_any_window_costs_a_fp() -> None:
    before_window = score([400, 200])  # no window precedes row 200
    assert before_window.fp == 1
    assert before_window.fp_score == pytest.approx(-A_FP)
    far_after = score([400, 499 + 3 * 99])  # 3 window widths after the window's right edge
    assert far_after.fp_score == -A_FP
    just_after = score([400, 500])  # position 1/99: nearly free
    assert -A_FP < just_after.fp_score < 0.0
    assert just_after.fp_score == pytest.approx(0.11 * scaled_sigmoid(1 / 99))
    assert score([400, 200], "reward_low_FP_rate").fp_score == pytest.approx(-0.22)


def test_detections_in_probationary_period_are_ignored() -> None:
    probation = score([0, 10, 149])
    assert probation.ignored == 3
    assert (probation.raw, probation.fp) == (-1.0, 0)
    first_scored = score([150])
    assert first_scored.fp == 1


def test_window_inside_probation_is_not_scored_but_places_later_false_positives() -> None:
    early = (TS[100], TS[119])  # ends before row 150
    result = score_file(TS, [early], [], "standard")
    assert (result.tp, result.fn, result.windows_unscored, result.null) == (0, 0, 1, 0.0)
    # As in NAB's sweeper, a later false positive is still placed after that window.
    later = score_file(TS, [early], [TS[200]], "standard")
    assert later.fp_score == pytest.approx(0.11 * scaled_sigmoid((200 - 119) / 19))


def test_low_fn_profile_penalises_a_miss_twice() -> None:
    assert score([], "standard").raw == -1.0
    assert score([], "reward_low_FN_rate").raw == -2.0
    assert score([], "reward_low_FP_rate").raw == -1.0


def test_detections_snap_to_rows_and_naive_times_are_utc() -> None:
    between = TS[399] + pd.Timedelta(seconds=30)  # snaps to row 400, the window start
    assert score_file(TS, [WINDOW], [between], "standard").raw == 1.0
    naive = TS.tz_localize(None)
    result = score_file(naive, [(WINDOW[0].tz_localize(None), WINDOW[1])], [TS[400]], "standard")
    assert result.raw == 1.0
    beyond = score_file(TS, [WINDOW], [TS[-1] + pd.Timedelta(hours=1)], "standard")
    assert beyond.ignored == 1


def test_repeated_timestamps_are_scored_by_row_like_nab() -> None:
    # A replayed hour (as in NAB's machine_temperature file): rows keep their file order.
    base = TS.tolist()
    ts = pd.DatetimeIndex(base[:600] + base[540:600] + base[600:940])
    assert len(ts) == 1000
    window = (ts[800], ts[899])
    result = score_file(ts, [window], [ts[800]], "standard")
    assert (result.raw, result.tp) == (1.0, 1)


def test_overlapping_windows_are_rejected() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        score_file(TS, [minutes(400, 500), minutes(450, 600)], [], "standard")


def test_normalised_score_pools_the_corpus() -> None:
    hit, miss = score([400]), score([])
    assert normalised_scores([hit, miss], "standard") == 50.0  # raw 0, null -2, perfect 2
    no_windows = score_file(TS, [], [], "standard")
    assert normalised_scores([no_windows], "standard") is None
    with pytest.raises(ValueError, match="profile"):
        normalised_scores([hit, score([], "reward_low_FN_rate")], "standard")


# --------------------------------------------------------------------------- event overlap


def test_event_overlap_precision_recall_f1() -> None:
    windows = [minutes(10, 20), minutes(30, 40), minutes(50, 60)]
    events = [minutes(5, 12), minutes(18, 19), minutes(25, 28), minutes(60, 70)]
    counts = event_overlap(windows, events)
    assert counts == OverlapCounts(windows=3, windows_found=2, events=4, events_matched=3)
    assert counts.precision == 0.75
    assert counts.recall == pytest.approx(2 / 3)
    assert counts.f1 == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))
    assert counts.false_positives == 1


def test_event_overlap_zero_divisions() -> None:
    quiet = event_overlap([], [])
    assert (quiet.precision, quiet.recall, quiet.f1) == (1.0, 1.0, 1.0)
    alarms = event_overlap([], [minutes(1, 2)])
    assert (alarms.precision, alarms.recall, alarms.f1) == (0.0, 1.0, 0.0)
    missed = event_overlap([minutes(1, 2)], [])
    assert (missed.precision, missed.recall, missed.f1) == (1.0, 0.0, 0.0)
    pooled = quiet + event_overlap([minutes(1, 2)], [minutes(2, 3)])
    assert (pooled.precision, pooled.recall) == (1.0, 1.0)


# --------------------------------------------------------------------------- corpus


def test_evaluate_corpus_per_file_category_and_total() -> None:
    files = [
        LabelledFile("a/one.csv", Path("a/one.csv"), "a", [WINDOW]),
        LabelledFile("a/two.csv", Path("a/two.csv"), "a", [WINDOW]),
        LabelledFile("b/none.csv", Path("b/none.csv"), "b", []),
    ]
    report = evaluate_corpus(
        files,
        detections_by_key={"a/one.csv": [TS[400]], "b/none.csv": [TS[700]]},
        events_by_key={"a/one.csv": [minutes(400, 410)], "b/none.csv": [minutes(700, 701)]},
        timestamps_by_key={f.key: TS for f in files},
    )
    assert report.profiles == list(PROFILES)
    assert [f.key for f in report.files] == ["a/one.csv", "a/two.csv", "b/none.csv"]
    standard = report.categories["a"].nab["standard"]
    assert (standard.tp, standard.fn, standard.score) == (1, 1, 50.0)
    assert report.categories["b"].nab["standard"].score is None
    total = report.total.nab["standard"]
    assert (total.tp, total.fp, total.fn) == (1, 1, 1)
    assert total.score == pytest.approx(100 * ((1 - 1 - A_FP) + 2) / 4)
    assert report.total.overlap == OverlapCounts(2, 1, 2, 1)
    assert report.files[0].normalised("reward_low_FN_rate") == 100.0
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["total"]["events"]["precision"] == 0.5
    assert as_json["categories"]["b"]["nab"]["standard"]["score"] is None
    assert as_json["files"][1]["nab"]["standard"]["score"] == 0.0


def test_evaluate_corpus_rejects_unknown_and_missing_keys() -> None:
    files = [LabelledFile("a/one.csv", Path("a/one.csv"), "a", [WINDOW])]
    with pytest.raises(ForecasterError, match=r"a/typo\.csv"):
        evaluate_corpus(files, {"a/typo.csv": []}, {}, {"a/one.csv": TS})
    with pytest.raises(ForecasterError, match=r"no timestamps.*a/one\.csv"):
        evaluate_corpus(files, {}, {}, {})
    with pytest.raises(ForecasterError, match="unknown NAB profile"):
        evaluate_corpus(files, {}, {}, {"a/one.csv": TS}, profiles=["strict"])


def write_csv(path: Path, rows: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    times = pd.date_range("2024-01-01", periods=rows, freq="5min")
    lines = ["timestamp,value", *(f"{t:%Y-%m-%d %H:%M:%S},{i}.5" for i, t in enumerate(times))]
    path.write_text("\n".join(lines) + "\n")


def write_labels(path: Path, labels: object) -> Path:
    path.write_text(json.dumps(labels))
    return path


def test_load_corpus_matches_files_and_labels(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_csv(data / "catB" / "b.csv")
    write_csv(data / "catA" / "a.csv")
    labels = write_labels(
        tmp_path / "windows.json",
        {
            "catA/a.csv": [["2024-01-01 00:20:00.000000", "2024-01-01 00:30:00.000000"]],
            "catB/b.csv": [],
            "heldOut/elsewhere.csv": [["2024-01-01 00:00:00", "2024-01-01 00:05:00"]],
        },
    )
    files = load_corpus(data, labels)
    assert [(f.key, f.category) for f in files] == [("catA/a.csv", "catA"), ("catB/b.csv", "catB")]
    assert files[0].windows == [
        (pd.Timestamp("2024-01-01 00:20", tz="UTC"), pd.Timestamp("2024-01-01 00:30", tz="UTC"))
    ]
    assert files[0].path == data / "catA" / "a.csv"
    series = read_nab_series(files[0].path)
    assert len(series) == 10 and str(pd.DatetimeIndex(series.index).tz) == "UTC"
    assert series.iloc[1] == 1.5


def test_load_corpus_errors_name_the_problem(tmp_path: Path) -> None:
    data = tmp_path / "data"
    labels = write_labels(tmp_path / "windows.json", {"catA/a.csv": []})
    with pytest.raises(ForecasterError, match="does not exist"):
        load_corpus(tmp_path / "nowhere", labels)
    data.mkdir()
    with pytest.raises(ForecasterError, match="no CSV files"):
        load_corpus(data, labels)
    write_csv(data / "catA" / "a.csv")
    write_csv(data / "catA" / "unlabelled.csv")
    with pytest.raises(ForecasterError, match=r"no entry in labels file.*catA/unlabelled\.csv"):
        load_corpus(data, labels)
    (data / "catA" / "unlabelled.csv").unlink()
    with pytest.raises(ForecasterError, match=r"missing\.json does not exist"):
        load_corpus(data, tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"catA/a.csv": [')
    with pytest.raises(ForecasterError, match=r"bad\.json is not valid JSON"):
        load_corpus(data, bad)
    cases: list[tuple[object, str]] = [
        ([], "must hold a JSON object"),
        ({"catA/a.csv": "2024-01-01"}, "'catA/a.csv': expected a list"),
        ({"catA/a.csv": [["2024-01-01"]]}, "window 0: expected \\[start, end\\]"),
        ({"catA/a.csv": [["2024-01-01", "soon"]]}, "window 0: bad timestamp"),
        ({"catA/a.csv": [["2024-01-02", "2024-01-01"]]}, "is after end"),
    ]
    for content, message in cases:
        with pytest.raises(ForecasterError, match=message):
            load_corpus(data, write_labels(tmp_path / "shape.json", content))


def test_real_corpus_null_scores_0_and_perfect_scores_100(shared_data: Path) -> None:
    nab = shared_data / "nab"
    files = load_corpus(nab / "data", nab / "labels" / "combined_windows.json")
    assert len(files) == 18
    timestamps = {f.key: pd.DatetimeIndex(read_nab_series(f.path).index) for f in files}
    null = evaluate_corpus(files, {}, {}, timestamps)
    perfect = evaluate_corpus(
        files,
        {f.key: [start for start, _ in f.windows] for f in files},
        {f.key: list(f.windows) for f in files},
        timestamps,
    )
    windows = sum(len(f.windows) for f in files)
    for name, profile in PROFILES.items():
        assert null.total.nab[name].score == 0.0
        assert perfect.total.nab[name].score == 100.0
        # NAB's runner: perfect = number of windows · A_TP; every window lies after probation
        assert perfect.total.nab[name].perfect == pytest.approx(windows * profile.a_tp)
        assert null.total.nab[name].null == -windows * profile.a_fn
    assert perfect.total.overlap.f1 == 1.0
    assert null.total.overlap.recall == 0.0


# --------------------------------------------------------------------------- baseline


def noisy(n: int = 2000, seed: int = 7) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    # Bounded noise: |x - mean| stays below 4·std (std of U(-a, a) is a/sqrt(3)), so k=4 is
    # guaranteed silent.
    return pd.Series(10.0 + rng.uniform(-1e-3, 1e-3, n), index=index)


def test_baseline_finds_an_obvious_spike() -> None:
    values = noisy()
    values.iloc[1200] += 1.0
    values.iloc[1202] += 1.0  # within merge_gap=3: the same event
    values.iloc[1500] -= 1.0
    events = rolling_sigma_events(values)
    assert events == [
        (values.index[1200], values.index[1202]),
        (values.index[1500], values.index[1500]),
    ]
    assert len(rolling_sigma_events(values, merge_gap=1)) == 3


def test_baseline_is_silent_on_constant_and_tiny_noise() -> None:
    assert rolling_sigma_events(noisy()) == []
    flat = pd.Series(45.0, index=noisy().index)
    assert rolling_sigma_events(flat) == []


def test_baseline_never_judges_the_first_window_and_never_looks_ahead() -> None:
    values = noisy()
    values.iloc[50] += 1.0  # inside the first 100 points: not judged
    assert rolling_sigma_events(values) == []
    values.iloc[1000] += 1.0
    full = rolling_sigma_events(values)
    assert full == [(values.index[1000], values.index[1000])]
    later_changed = values.copy()
    later_changed.iloc[1100:] = 0.0
    assert rolling_sigma_events(later_changed)[0] == full[0]
    assert rolling_sigma_events(values.iloc[:1001]) == full
    with_gap = values.copy()
    with_gap.iloc[500:520] = math.nan
    assert rolling_sigma_events(with_gap) == full


def test_baseline_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="window"):
        rolling_sigma_events(noisy(), window=1)
    with pytest.raises(ValueError, match="k must"):
        rolling_sigma_events(noisy(), k=0)
    with pytest.raises(ValueError, match="merge_gap"):
        rolling_sigma_events(noisy(), merge_gap=0)
    with pytest.raises(TypeError, match="DatetimeIndex"):
        rolling_sigma_events(pd.Series([1.0, 2.0]))
