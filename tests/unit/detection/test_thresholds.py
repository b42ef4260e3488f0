"""Thresholds: hand-computed levels, Hundman pruning, no look-ahead, validation, settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pydantic import ValidationError

from forecaster.config.detection import DetectionSettings
from forecaster.detection.errors import smooth_errors
from forecaster.detection.registry import THRESHOLDS, by_name, threshold_from
from forecaster.detection.thresholds.base import Threshold, validate_errors
from forecaster.detection.thresholds.dynamic import DynamicThreshold
from forecaster.detection.thresholds.robust import MAD_TO_STD, RobustThreshold
from forecaster.detection.thresholds.static import StaticThreshold

NAN = math.nan


def literal_prune_keeps(values: np.ndarray, linked: np.ndarray, eps: float, prune: float) -> bool:
    """Literal Hundman pruning of one window whose last value is above `eps`: the reference
    the vectorised pruning of DynamicThreshold is checked against.

    Peaks of the runs above `eps` sorted descending, the largest non-anomalous value
    appended; with j the last index whose relative decrease to the next is >= prune, the
    runs after j are pruned. True iff the run holding the last value survives.
    """
    above = values > eps
    starts = above.copy()
    starts[1:] &= ~(above[:-1] & linked[1:])
    above_index = np.flatnonzero(above)
    run_first = np.flatnonzero(starts[above_index])
    peaks = np.maximum.reduceat(values[above_index], run_first)
    own_peak = peaks[-1]
    rest = values[~above]
    chain = np.append(np.sort(peaks)[::-1], rest.max() if rest.size else 0.0)
    decrease = (chain[:-1] - chain[1:]) / chain[:-1]
    kept = np.flatnonzero(decrease >= prune)
    if kept.size == 0:
        return False
    return bool(own_peak >= chain[kept[-1]])


def grid(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)


def noise(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return smooth_errors(np.abs(rng.normal(size=n)), 10, 50)


def messy_series(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise with spikes, missing predictions and jumps in the step grid."""
    rng = np.random.default_rng(seed)
    errors = np.abs(rng.normal(size=n)) * (1 + (rng.random(n) < 0.03) * rng.uniform(3, 12, n))
    errors[rng.random(n) < 0.05] = np.nan
    errors[:5] = np.nan
    steps = np.cumsum(rng.choice([1, 1, 1, 1, 2, 9], size=n)) + 1000
    return errors, steps


# --- dynamic: level ---------------------------------------------------------------------


def test_dynamic_level_hand_computed() -> None:
    # Fit window (steps <= 5): [1, 1, 1, 1, 6]: mean 2, std 2. z in {1, 1.5, 2} -> ε 4, 5, 6.
    # z = 1 and 1.5 both cut off {6}: (Δm/m + Δs/s) = 1/2 + 2/2, / (1² + 1) = 0.75 each;
    # z = 2 cuts off nothing. The tie goes to the larger z: ε = 5.
    threshold = DynamicThreshold(
        window=5, refit_every=5, min_history=5, z_min=1.0, z_max=2.0, z_step=0.5, prune=0.0
    )
    errors = [1.0, 1.0, 1.0, 1.0, 6.0, 5.5, 4.9, 5.0]
    steps = [0, 1, 2, 3, 4, 6, 7, 8]  # step 5 missing: the boundary 5 sees steps 0..4
    result = threshold.decide(errors, steps, start=5)
    assert_array_equal(result.threshold, [5.0, 5.0, 5.0])
    assert_array_equal(result.anomalous, [True, False, False])
    # Before step 5 the fit window (steps <= 0) is too short: undecided.
    early = threshold.decide(errors, steps)
    assert np.all(np.isnan(early.threshold[:5]))
    assert not early.anomalous[:5].any()


def literal_level(history: np.ndarray, linked: np.ndarray, threshold: DynamicThreshold) -> float:
    """Hundman's ε on one fit window, z by z as the definition reads: the reference the
    sorted-error computation of DynamicThreshold is checked against."""
    mean, std = float(history.mean()), float(history.std())
    if not std > 0:
        return mean
    best_eps, best_score = mean + threshold.z_max * std, 0.0
    z = threshold.z_min
    while z <= threshold.z_max + 1e-9:
        eps = mean + z * std
        above = history > eps
        below = history[~above]
        n_runs = int(above[0]) + int(np.sum(above[1:] & ~(above[:-1] & linked[1:])))
        if above.any():
            gain = (mean - below.mean()) / mean + (std - below.std()) / std
            score = gain / (n_runs**2 + int(above.sum()))
            if score > 0 and score >= best_score:  # ties go to the larger z
                best_eps, best_score = eps, score
        z += threshold.z_step
    return best_eps


@pytest.mark.parametrize("seed", range(8))
def test_dynamic_level_matches_the_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    errors, steps = messy_series(400, seed)
    if seed % 2:  # ties: errors on a coarse grid of values
        errors = np.round(errors * 4) / 4
    threshold = DynamicThreshold(window=150, refit_every=1, min_history=20, prune=0.0)
    result = threshold.decide(errors, steps)
    series = validate_errors(errors, steps, 0, None)
    checked = 0
    for position in rng.choice(np.flatnonzero(np.isfinite(result.threshold)), 40):
        end = int(np.searchsorted(series.finite_pos, position, side="right"))
        begin = max(0, end - threshold.window)
        linked = series.linked[begin:end].copy()
        linked[0] = False
        expected = literal_level(series.finite_values[begin:end], linked, threshold)
        assert math.isclose(result.threshold[position], expected, rel_tol=1e-12), position
        checked += 1
    assert checked == 40


def test_dynamic_level_falls_back_to_z_max_and_constant_history() -> None:
    threshold = DynamicThreshold(
        window=6, refit_every=6, min_history=6, z_min=2.0, z_max=3.0, prune=0.0
    )
    # mean 1.5, std 0.5: no z >= 2 cuts anything off -> ε = 1.5 + 3 · 0.5
    steps = [0, 1, 2, 3, 4, 5, 7]
    result = threshold.decide([1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.1], steps, start=6)
    assert_array_equal(result.threshold, [3.0])
    assert_array_equal(result.anomalous, [True])
    # A point on a boundary step is part of its own fit window (it only uses errors[:t+1]).
    on_boundary = threshold.decide([1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.1], grid(7), start=6)
    assert on_boundary.threshold[0] > 3.0
    constant = threshold.decide([0.5] * 6 + [0.5, 0.6], [0, 1, 2, 3, 4, 5, 7, 8], start=6)
    assert_array_equal(constant.threshold, [0.5, 0.5])
    assert_array_equal(constant.anomalous, [False, True])


def test_dynamic_finds_a_spike_in_noise() -> None:
    errors = noise(3000, seed=11)
    errors[2000:2006] += 8.0
    result = DynamicThreshold(window=500, refit_every=50).decide(errors, grid(3000))
    flagged = np.flatnonzero(result.anomalous)
    assert np.any((flagged >= 2000) & (flagged < 2010))
    assert np.count_nonzero((flagged < 1990) | (flagged > 2060)) <= 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dynamic_on_plain_noise_flags_almost_nothing(seed: int) -> None:
    # Hundman's z search always cuts some tail off noise; pruning removes most of it.
    # Measured on seeds 0..5: 5-9 of 20000 points with pruning, 66-87 without.
    errors = noise(20_000, seed)
    steps = grid(errors.size)
    pruned = DynamicThreshold().decide(errors, steps).anomalous.sum()
    unpruned = DynamicThreshold(prune=0.0).decide(errors, steps).anomalous.sum()
    assert pruned <= 20  # 0.1 %
    assert unpruned <= 200  # 1 %
    assert pruned < unpruned


# --- dynamic: pruning -------------------------------------------------------------------

# With the first error 1.0 and min_history 1, the level fitted at boundary 0 is ε = 1.0 for
# all steps below refit_every; the baseline 0.5 and that first 1.0 are not anomalous, so the
# largest non-anomalous error in each pruning window is 1.0.
PRUNE_SETUP = {"window": 50, "refit_every": 1000, "min_history": 1}


def pruning_case(first: list[float], second: list[float]) -> np.ndarray:
    errors = np.full(40, 0.5)
    errors[0] = 1.0
    errors[10:13] = first
    errors[20:23] = second
    return errors


def test_pruning_removes_a_sequence_close_to_the_non_anomalous_level() -> None:
    # At t = 21: chain [3, 1.1, 1.0] -> decreases 0.63, 0.09: the last one >= 0.13 is
    # index 0, so the 1.1 sequence is pruned and the 3.0 one kept.
    errors = pruning_case([2.0, 3.0, 2.0], [1.05, 1.1, 1.05])
    result = DynamicThreshold(**PRUNE_SETUP).decide(errors, grid(errors.size))
    assert_array_equal(result.threshold, np.full(40, 1.0))
    assert_array_equal(np.flatnonzero(result.anomalous), [10, 11, 12])
    unpruned = DynamicThreshold(**PRUNE_SETUP, prune=0.0).decide(errors, grid(errors.size))
    assert_array_equal(np.flatnonzero(unpruned.anomalous), [10, 11, 12, 20, 21, 22])


def test_pruning_keeps_a_smaller_sequence_well_above_the_rest() -> None:
    # [3, 2.8, 1.0]: 3 -> 2.8 is within p, but 2.8 -> 1.0 is not, so both are kept.
    errors = pruning_case([2.0, 3.0, 2.0], [2.0, 2.8, 2.0])
    result = DynamicThreshold(**PRUNE_SETUP).decide(errors, grid(errors.size))
    assert_array_equal(np.flatnonzero(result.anomalous), [10, 11, 12, 20, 21, 22])
    # [3, 2.0, 1.0] also keeps both.
    errors = pruning_case([2.0, 3.0, 2.0], [1.5, 2.0, 1.5])
    result = DynamicThreshold(**PRUNE_SETUP).decide(errors, grid(errors.size))
    assert_array_equal(np.flatnonzero(result.anomalous), [10, 11, 12, 20, 21, 22])


def test_pruning_removes_everything_when_no_decrease_reaches_p() -> None:
    # A lone run peaking at 1.12 over a non-anomalous 1.0: decrease 0.107 < 0.13.
    errors = pruning_case([1.1, 1.12, 1.1], [0.5, 0.5, 0.5])
    result = DynamicThreshold(**PRUNE_SETUP).decide(errors, grid(errors.size))
    assert not result.anomalous.any()
    assert DynamicThreshold(**PRUNE_SETUP, prune=0.1).decide(errors, grid(40)).anomalous.any()


def test_pruning_decides_at_the_time_of_the_point() -> None:
    # The second run grows from 1.05 (pruned when seen) to 2.5 (kept): earlier points of the
    # run stay pruned, because decisions only use errors up to their own time.
    errors = pruning_case([2.0, 3.0, 2.0], [1.05, 2.5, 1.05])
    result = DynamicThreshold(**PRUNE_SETUP).decide(errors, grid(errors.size))
    assert_array_equal(np.flatnonzero(result.anomalous), [10, 11, 12, 21, 22])


def test_a_step_gap_splits_a_sequence() -> None:
    # [3.0, 1.1] on consecutive steps are one run peaking at 3.0: both kept. With a gap in
    # the grid between them, 1.1 is its own run: chain [3, 1.1, 1.0] prunes it.
    errors = pruning_case([0.5, 3.0, 1.1], [0.5, 0.5, 0.5])
    steps = grid(errors.size)
    joined = DynamicThreshold(**PRUNE_SETUP).decide(errors, steps)
    assert_array_equal(np.flatnonzero(joined.anomalous), [11, 12])
    steps[12:] += 5
    split = DynamicThreshold(**PRUNE_SETUP).decide(errors, steps)
    assert_array_equal(np.flatnonzero(split.anomalous), [11])
    assert_array_equal(split.threshold, np.full(40, 1.0))


@pytest.mark.parametrize("seed", range(6))
def test_grouped_pruning_matches_the_literal_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    errors, steps = messy_series(int(rng.integers(200, 600)), seed)
    threshold = DynamicThreshold(
        window=int(rng.integers(10, 80)),
        refit_every=int(rng.integers(1, 30)),
        min_history=5,
        prune=float(rng.choice([0.05, 0.13, 0.3])),
    )
    result = threshold.decide(errors, steps)
    series = validate_errors(errors, steps, 0, None)
    candidates = np.flatnonzero(np.isfinite(errors) & (errors > result.threshold))
    assert candidates.size > 0
    for position in candidates:
        rank = int(np.searchsorted(series.finite_pos, position))
        begin = max(0, rank + 1 - threshold.window)
        linked = series.linked[begin : rank + 1].copy()
        linked[0] = False
        eps = float(result.threshold[position])
        keep = literal_prune_keeps(
            series.finite_values[begin : rank + 1], linked, eps, threshold.prune
        )
        assert result.anomalous[position] == keep, position


@pytest.mark.parametrize("seed", range(12))
def test_grouped_pruning_matches_the_literal_rule_with_runs_cut_by_the_window(seed: int) -> None:
    # Smoothed errors come in long runs: bursts longer than the window, so the oldest run
    # of a candidate's window is often cut by the window start.
    rng = np.random.default_rng(100 + seed)
    n = 600
    errors = np.abs(rng.normal(size=n))
    for begin in rng.integers(0, n - 60, size=8):
        errors[begin : begin + int(rng.integers(15, 60))] += rng.uniform(3, 9)
    steps = np.arange(n) + 7
    threshold = DynamicThreshold(
        window=int(rng.integers(10, 40)), refit_every=int(rng.integers(50, 200)), min_history=5
    )
    result = threshold.decide(errors, steps)
    series = validate_errors(errors, steps, 0, None)
    candidates = np.flatnonzero(errors > result.threshold)
    assert candidates.size > 0
    for position in candidates:
        begin = max(0, position + 1 - threshold.window)
        linked = series.linked[begin : position + 1].copy()
        linked[0] = False
        eps = float(result.threshold[position])
        keep = literal_prune_keeps(errors[begin : position + 1], linked, eps, threshold.prune)
        assert result.anomalous[position] == keep, position


# --- static and robust ------------------------------------------------------------------


def test_static_threshold() -> None:
    result = StaticThreshold(k=4.0).decide([0.5, 2.1, 2.0, NAN, 1.9], grid(5), reference_scale=0.5)
    assert_array_equal(result.threshold, [2.0] * 5)
    assert_array_equal(result.anomalous, [False, True, False, False, False])
    with pytest.raises(ValueError, match="reference_scale"):
        StaticThreshold().decide([1.0], grid(1))
    with pytest.raises(ValueError, match="reference_scale"):
        StaticThreshold().decide([1.0], grid(1), reference_scale=0.0)


def test_robust_threshold_hand_computed() -> None:
    # Fit window [1, 2, 3, 4, 100]: median 3, MAD median(2, 1, 0, 1, 97) = 1
    threshold = RobustThreshold(window=5, refit_every=5, min_history=5, k=4.0)
    errors = [1.0, 2.0, 3.0, 4.0, 100.0, 8.9, 9.0, NAN]
    result = threshold.decide(errors, [0, 1, 2, 3, 4, 6, 7, 8], start=5)
    assert_allclose(result.threshold, [3 + 4 * MAD_TO_STD] * 3)
    assert_array_equal(result.anomalous, [False, True, False])


def test_robust_threshold_refits_on_the_trailing_window() -> None:
    threshold = RobustThreshold(window=4, refit_every=2, min_history=3, k=1.0)
    errors = [9.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.5]
    result = threshold.decide(errors, grid(9))
    # boundary 0: 1 point (undecided); 2: [9, 1, 1] -> 1 + 0; 4: [1, 1, 1, 2] -> 1;
    # 6: [1, 2, 2, 2] -> 2; 8: [2, 2, 2, 2.5] -> 2
    assert_array_equal(result.threshold, [NAN, NAN, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
    assert_array_equal(
        result.anomalous, [False, False, False, False, True, True] + [False] * 2 + [True]
    )


# --- the contract every threshold keeps -------------------------------------------------


BY_NAME = by_name(THRESHOLDS)


def threshold_settings(section: dict[str, object]) -> DetectionSettings:
    """Detection settings with this `threshold:` section, validated as from a config file."""
    return DetectionSettings.model_validate({"threshold": section})


def contract_threshold(name: str) -> Threshold:
    fields = BY_NAME[name].settings_type.model_fields
    window = {"window": 60, "refit_every": 7, "min_history": 20}
    section = {"method": name, **{k: v for k, v in window.items() if k in fields}}
    threshold = threshold_from(threshold_settings(section).threshold)
    assert isinstance(threshold, BY_NAME[name])
    return threshold


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_appending_points_never_changes_earlier_decisions(name: str) -> None:
    threshold = contract_threshold(name)
    errors, steps = messy_series(500, seed=4)
    full = threshold.decide(errors, steps, reference_scale=1.0)
    assert full.anomalous.any()
    for cut in (1, 30, 97, 250, 499):
        head = threshold.decide(errors[:cut], steps[:cut], reference_scale=1.0)
        assert_array_equal(head.threshold, full.threshold[:cut])
        assert_array_equal(head.anomalous, full.anomalous[:cut])


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_decisions_do_not_depend_on_the_batch(name: str) -> None:
    threshold = contract_threshold(name)
    errors, steps = messy_series(500, seed=7)
    full = threshold.decide(errors, steps, reference_scale=1.0)
    for t in (0, 1, 64, 200, 333, 499, 500):
        part = threshold.decide(errors, steps, t, reference_scale=1.0)
        assert_array_equal(part.threshold, full.threshold[t:])
        assert_array_equal(part.anomalous, full.anomalous[t:])
        # Only the context the threshold says it needs is required.
        context = threshold.context_start(errors, steps, t)
        assert 0 <= context <= t
        for begin in {context, context // 2}:
            sliced = threshold.decide(errors[begin:], steps[begin:], t - begin, reference_scale=1.0)
            assert_array_equal(sliced.threshold, full.threshold[t:])
            assert_array_equal(sliced.anomalous, full.anomalous[t:])


def test_context_start_is_tight_for_windowed_thresholds() -> None:
    threshold = DynamicThreshold(window=60, refit_every=7, min_history=20)
    errors, steps = messy_series(500, seed=7)
    context = threshold.context_start(errors, steps, 400)
    assert context > 300
    # One point less context changes the first fit window.
    sliced = threshold.decide(errors[context + 1 :], steps[context + 1 :], 400 - context - 1)
    full = threshold.decide(errors, steps, 400)
    assert not np.array_equal(sliced.threshold, full.threshold)


@pytest.mark.parametrize(
    ("errors", "steps", "start", "message"),
    [
        (np.ones((2, 2)), [0, 1], 0, "errors must be a 1-D"),
        ([1.0, 2.0], [[0, 1]], 0, "steps must be a 1-D"),
        ([1.0, 2.0], [0, 1, 2], 0, "differ in length"),
        ([1.0, 2.0], [0.0, 1.0], 0, "steps must be integers"),
        ([1.0, 2.0], [0, 1], -1, "start must be in 0..2"),
        ([1.0, 2.0], [0, 1], 3, "start must be in 0..2"),
        ([1.0, 2.0, 3.0], [0, 2, 2], 0, r"strictly increasing: steps\[1\]=2"),
        ([1.0, -2.0], [0, 1], 0, r"nonnegative.*errors\[1\]"),
        ([1.0, math.inf], [0, 1], 0, r"errors\[1\]=inf"),
    ],
)
@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_decide_validates_input(
    name: str, errors: object, steps: object, start: int, message: str
) -> None:
    threshold = contract_threshold(name)
    with pytest.raises(ValueError, match=message):
        threshold.decide(errors, steps, start, reference_scale=1.0)  # type: ignore[arg-type]


def test_empty_input_and_start_at_the_end() -> None:
    for name in BY_NAME:
        threshold = contract_threshold(name)
        result = threshold.decide(np.array([]), np.array([], dtype=np.int64), reference_scale=1.0)
        assert result.threshold.shape == (0,)
        assert result.anomalous.dtype == np.bool_


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 0},
        {"refit_every": 0},
        {"min_history": 0},
        {"window": 10, "min_history": 11},
        {"z_min": 3.0, "z_max": 2.0},
        {"z_min": 0.0},
        {"z_step": 0.0},
        {"prune": 1.0},
    ],
)
def test_dynamic_constructor_validates(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DynamicThreshold(**kwargs)  # type: ignore[arg-type]


def test_constructors_reject_nonpositive_k() -> None:
    with pytest.raises(ValueError, match="k must be > 0"):
        StaticThreshold(k=0.0)
    with pytest.raises(ValueError, match="k must be > 0"):
        RobustThreshold(k=-1.0)


# --- settings -----------------------------------------------------------------------------


def test_registry_and_factory() -> None:
    assert set(BY_NAME) == {"dynamic", "static", "robust"}
    dynamic = threshold_from(DetectionSettings().threshold)
    assert isinstance(dynamic, DynamicThreshold)
    assert (dynamic.window, dynamic.refit_every, dynamic.min_history) == (1000, 100, 100)
    assert dynamic.prune == 0.13
    static = threshold_from(threshold_settings({"method": "static", "k": 3.0}).threshold)
    assert isinstance(static, StaticThreshold) and static.k == 3.0
    robust = threshold_from(
        threshold_settings(
            {"method": "robust", "k": 5.0, "window": 50, "min_history": 20}
        ).threshold
    )
    assert isinstance(robust, RobustThreshold) and (robust.k, robust.window) == (5.0, 50)


def test_the_flat_names_of_earlier_configs_are_still_read() -> None:
    static = threshold_settings({"method": "static", "k_static": 3.0}).threshold
    robust = threshold_settings({"method": "robust", "k_robust": 5.0}).threshold
    assert static.model_dump() == {"method": "static", "k": 3.0}
    assert threshold_from(robust).k == 5.0  # type: ignore[attr-defined]
    flat = DetectionSettings.model_validate({"score_window": 300, "score_min_history": 30})
    assert flat.scorer.model_dump() == {"method": "tail", "window": 300, "min_history": 30}
    with pytest.raises(ValidationError, match="inside scorer"):
        DetectionSettings.model_validate({"score_window": 300, "scorer": {"window": 200}})


def test_settings_reject_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError, match="extra"):
        threshold_settings({"metod": "dynamic"})
    with pytest.raises(ValidationError, match="extra"):
        threshold_settings({"window": 10, "windw": 3})
    # each method takes its own parameters only
    with pytest.raises(ValidationError, match="extra"):
        threshold_settings({"method": "static", "window": 100})
    with pytest.raises(ValidationError, match="extra"):
        threshold_settings({"method": "robust", "z_min": 3})
    with pytest.raises(ValidationError, match="unknown method"):
        threshold_settings({"method": "magic"})
    with pytest.raises(ValidationError, match="z_min"):
        threshold_settings({"z_min": 5.0, "z_max": 4.0})
    with pytest.raises(ValidationError, match="min_history"):
        threshold_settings({"window": 10, "min_history": 20})
    with pytest.raises(ValidationError):
        threshold_settings({"prune": 1.0})
    with pytest.raises(ValidationError):
        DetectionSettings(min_score=1.5)
    with pytest.raises(ValidationError):
        DetectionSettings(smoothing_length=0)
    with pytest.raises(ValidationError, match="min_history"):
        DetectionSettings.model_validate({"score_window": 10, "score_min_history": 11})
    with pytest.raises(ValidationError, match="min_history"):
        DetectionSettings.model_validate({"scorer": {"window": 10, "min_history": 11}})


def test_detection_settings_defaults_and_nesting() -> None:
    settings = DetectionSettings.model_validate({"threshold": {"method": "robust"}})
    assert settings.threshold.method == "robust"
    assert settings.threshold.window == 1000  # type: ignore[attr-defined]
    assert settings.scorer.method == "likelihood" and settings.scorer.window == 1000  # type: ignore[attr-defined]
    assert (settings.smoothing_span, settings.smoothing_length) == (20, 100)
    assert (settings.merge_gap, settings.min_score, settings.refractory) == (10, 0.97, 100)
    assert (settings.range.window, settings.range.margin, settings.seasonal.ratio) == (
        500,
        0.2,
        2.0,
    )
    with pytest.raises(ValidationError):
        settings.merge_gap = 4
