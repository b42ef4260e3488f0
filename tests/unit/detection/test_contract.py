"""The contract every registered scorer and threshold keeps: registered with its settings, no
look-ahead, bit-identical with only its declared history, NaN-safe, results in range; and the
same for every rule beside the forecast rule and for the whole Detector with its declared
context."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from forecaster.config.detection import DetectionSettings
from forecaster.detection.decide import Detector
from forecaster.detection.parts import DetectionPart
from forecaster.detection.registry import RULES, SCORERS, THRESHOLDS
from forecaster.detection.rules import Rule, RuleInputs
from forecaster.detection.scores.base import Scorer
from forecaster.detection.stuck import StuckRule
from forecaster.detection.thresholds.base import Threshold

PARTS: list[type[DetectionPart]] = [*SCORERS, *THRESHOLDS]
# Small windows keep the checks fast; a part without these settings keeps its defaults.
SMALL = {"window": 60, "refit_every": 7, "min_history": 20}
REFERENCE_SCALE = 0.8  # the model's validation RMSE, for thresholds that use it


def part_id(part: type[DetectionPart]) -> str:
    kind = "scorer" if issubclass(part, Scorer) else "threshold"
    return f"{kind}-{part.name}"


def small(part: type[DetectionPart]) -> DetectionPart:
    fields = part.settings_type.model_fields
    settings = part.settings_type.model_validate({k: v for k, v in SMALL.items() if k in fields})
    return part.from_settings(settings)


def smoothed_errors(n: int, seed: int, nan_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Heavy-tailed nonnegative errors with bursts, optional NaN, on a grid with jumps."""
    rng = np.random.default_rng(seed)
    errors = np.abs(rng.standard_t(3, size=n)) * (1 + (rng.random(n) < 0.03) * 8)
    if nan_share:
        errors[rng.random(n) < nan_share] = np.nan
        errors[:10] = np.nan  # a warm-up with no predictions
    steps = np.cumsum(rng.choice([1, 1, 1, 1, 2, 5], size=n)) + 5_000
    return errors, steps


def run(part: DetectionPart, errors: np.ndarray, steps: np.ndarray, start: int) -> list[np.ndarray]:
    """The part's results for positions start..: scores, or levels and decisions."""
    if isinstance(part, Scorer):
        return [part.score(errors, start)]
    assert isinstance(part, Threshold)
    result = part.decide(errors, steps, start, reference_scale=REFERENCE_SCALE)
    return [result.threshold, result.anomalous]


@pytest.mark.parametrize("part", PARTS, ids=part_id)
def test_every_part_is_registered_with_its_own_settings(part: type[DetectionPart]) -> None:
    assert part.settings_type.model_fields["method"].default == part.name
    built = part.from_settings(part.settings_type())
    assert isinstance(built, part) and built.history >= 0
    registry = SCORERS if issubclass(part, Scorer) else THRESHOLDS
    assert [p.name for p in registry].count(part.name) == 1


@pytest.mark.parametrize("part", PARTS, ids=part_id)
def test_appending_points_never_changes_earlier_results(part: type[DetectionPart]) -> None:
    detector = small(part)
    errors, steps = smoothed_errors(400, seed=1, nan_share=0.05)
    full = run(detector, errors, steps, 0)
    for cut in (1, 25, 133, 399):
        head = run(detector, errors[:cut], steps[:cut], 0)
        for got, want in zip(head, full, strict=True):
            assert_array_equal(got, want[:cut])


@pytest.mark.parametrize("part", PARTS, ids=part_id)
def test_results_are_bit_identical_with_only_the_declared_history(
    part: type[DetectionPart],
) -> None:
    detector = small(part)
    errors, steps = smoothed_errors(500, seed=2)  # finite: the declared history suffices
    for start in (detector.history, 250, 499):
        begin = max(0, start - detector.history)
        sliced = run(detector, errors[begin:], steps[begin:], start - begin)
        for got, want in zip(sliced, run(detector, errors, steps, start), strict=True):
            assert_array_equal(got, want)


@pytest.mark.parametrize("part", PARTS, ids=part_id)
def test_missing_errors_are_never_anomalous_and_never_fail(part: type[DetectionPart]) -> None:
    detector = small(part)
    errors, steps = smoothed_errors(300, seed=3, nan_share=0.3)
    results = run(detector, errors, steps, 0)
    missing = np.isnan(errors)
    if isinstance(detector, Scorer):
        assert np.isnan(results[0][missing]).all()
    else:
        assert not results[1][missing].any()
    nothing = run(detector, np.full(50, np.nan), steps[:50], 0)
    assert all(len(r) == 50 for r in nothing)
    if isinstance(detector, Scorer):
        assert np.isnan(nothing[0]).all()
    else:
        assert not nothing[1].any()


@pytest.mark.parametrize("part", PARTS, ids=part_id)
def test_results_have_one_value_per_decided_point_in_range(part: type[DetectionPart]) -> None:
    detector = small(part)
    errors, steps = smoothed_errors(300, seed=4, nan_share=0.05)
    results = run(detector, errors, steps, 120)
    assert all(len(r) == 180 for r in results)
    if isinstance(detector, Scorer):
        scores = results[0][np.isfinite(results[0])]
        assert scores.size and (scores >= 0).all() and (scores <= 1).all()
    else:
        levels, anomalous = results
        assert anomalous.dtype == np.bool_
        assert (levels[np.isfinite(levels)] >= 0).all()
        assert not anomalous[~np.isfinite(levels)].any()


SCORER_PARTS = [p for p in PARTS if issubclass(p, Scorer)]


@pytest.mark.parametrize("part", SCORER_PARTS, ids=part_id)
@pytest.mark.parametrize("share", [0.0, 0.02, 0.5, 1.0])
def test_scores_where_wanted_are_the_scores_and_nan_stays_nan(
    part: type[DetectionPart], share: float
) -> None:
    scorer = small(part)
    assert isinstance(scorer, Scorer)
    errors, _ = smoothed_errors(400, seed=5, nan_share=0.1)
    for start in (0, 90, 399):
        wanted = np.random.default_rng(start).random(400 - start) < share
        full = scorer.score(errors, start)
        some = scorer.score_where(errors, start, wanted)
        assert_array_equal(some[wanted], full[wanted])  # the same bits
        assert_array_equal(np.isnan(some), np.isnan(full))
        assert ((some[~np.isnan(some)] >= 0) & (some[~np.isnan(some)] <= 1)).all()
    huge = errors * 1e160  # sums of squares would overflow: still the same NaN
    wanted = np.zeros(400, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        some, full = scorer.score_where(huge, 0, wanted), scorer.score(huge)
    assert_array_equal(np.isnan(some), np.isnan(full))
    with pytest.raises(ValueError, match="wanted must have 310 values"):
        scorer.score_where(errors, 90, np.ones(3, dtype=bool))


# The rules beside the forecast rule keep the same contract: the stuck rule on values, and
# the whole Detector (forecast, extreme and stuck rules) with its declared context.
STUCK_SMALL = StuckRule(min_run=4, factor=1.5, window=60, min_history=10)
MIN_SCORE = 0.94


def repeating_values(n: int, seed: int, nan_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Coarse readings with natural repeats, a few long stuck runs, optional NaN, on a grid
    with jumps."""
    rng = np.random.default_rng(seed)
    values = np.round(np.cumsum(rng.normal(0, 0.7, n)))
    for begin in rng.choice(n - 30, size=5, replace=False):
        values[begin : begin + int(rng.integers(8, 30))] = values[begin]
    if nan_share:
        values[rng.random(n) < nan_share] = np.nan
    steps = np.cumsum(rng.choice([1, 1, 1, 1, 1, 1, 1, 4], size=n)) + 5_000
    return values, steps


def run_stuck(values: np.ndarray, steps: np.ndarray, start: int) -> list[np.ndarray]:
    result = STUCK_SMALL.decide(values, steps, start, MIN_SCORE)
    return [result.flagged, result.score, result.threshold]


def test_stuck_rule_never_looks_ahead() -> None:
    values, steps = repeating_values(400, seed=1, nan_share=0.02)
    full = run_stuck(values, steps, 0)
    assert full[0].any()
    for cut in (1, 25, 133, 399):
        for got, want in zip(run_stuck(values[:cut], steps[:cut], 0), full, strict=True):
            assert_array_equal(got, want[:cut])


def test_stuck_rule_is_bit_identical_with_only_its_declared_history() -> None:
    values, steps = repeating_values(500, seed=2)
    history = STUCK_SMALL.history
    for start in (history, 250, 499):
        begin = start - history
        sliced = run_stuck(values[begin:], steps[begin:], history)
        for got, want in zip(sliced, run_stuck(values, steps, start), strict=True):
            assert_array_equal(got, want)


def test_stuck_rule_never_flags_missing_values_and_scores_in_range() -> None:
    values, steps = repeating_values(600, seed=3, nan_share=0.1)
    flagged, score, threshold = run_stuck(values, steps, 0)
    assert flagged.any() and not flagged[np.isnan(values)].any()
    assert (score[flagged] >= MIN_SCORE).all() and (score[flagged] < 1).all()
    assert np.isnan(score[~flagged]).all()
    assert (threshold[flagged] >= STUCK_SMALL.min_run).all()
    assert not run_stuck(np.full(50, np.nan), steps[:50], 0)[0].any()


@pytest.mark.parametrize("method", [part.name for part in THRESHOLDS])
def test_detector_decisions_are_bit_identical_with_only_its_context(method: str) -> None:
    fields = next(p for p in THRESHOLDS if p.name == method).settings_type.model_fields
    settings = DetectionSettings.model_validate(
        {
            "smoothing_length": 20,
            "scorer": {"window": 60, "min_history": 20},
            "threshold": {"method": method, **{k: v for k, v in SMALL.items() if k in fields}},
            "stuck": {"min_run": 4, "factor": 1.5, "window": 150, "min_history": 10},
            "range": {"window": 100, "min_history": 20},
            "shift": {"enabled": True, "short": 5, "window": 120, "min_history": 20},
            "seasonal": {"ratio": 1.5, "slack": 1},
        }
    )
    detector = Detector.from_settings(settings)
    season = 24
    context = detector.context_points(season)
    assert context >= 150  # the stuck window
    values, steps = repeating_values(900, seed=4)
    rng = np.random.default_rng(5)
    predicted = np.r_[np.nan, values[:-1]] + rng.normal(0, 0.3, 900)  # a persistence forecast
    values[[8, 300, 620]] += 1e12  # glitches: the first before the forecast rule can judge
    observed = np.ones(900, dtype=bool)
    full = detector.decide(
        values, observed, predicted, steps, 0, reference_scale=REFERENCE_SCALE, season=season
    )
    assert set(full.rule[full.anomalous]) >= {"extreme", "stuck"}
    assert "range" in ",".join(full.signals[full.anomalous])
    for start in (context, 610, 899):
        begin = start - context
        sliced = detector.decide(
            values[begin:],
            observed[begin:],
            predicted[begin:],
            steps[begin:],
            start - begin,
            reference_scale=REFERENCE_SCALE,
            season=season,
        )
        whole = detector.decide(
            values,
            observed,
            predicted,
            steps,
            start,
            reference_scale=REFERENCE_SCALE,
            season=season,
        )
        for name in ("anomalous", "score", "threshold", "direction", "rule", "signals"):
            assert_array_equal(getattr(sliced, name), getattr(whole, name), err_msg=name)


# Every rule beside the forecast rule, built from its own settings section with small windows.
RULE_SMALL = {"window": 80, "min_history": 20, "short": 5, "min_run": 4, "factor": 1.5}


def small_rule(rule: type[Rule]) -> Rule:
    section = getattr(DetectionSettings(), rule.name)
    fields = type(section).model_fields
    return rule.from_settings(
        section.model_validate({k: v for k, v in RULE_SMALL.items() if k in fields})
    )


def contract_inputs(values: np.ndarray, steps: np.ndarray, start: int) -> RuleInputs:
    """Inputs of positions start..: a persistence forecast's residuals, every third filled
    value unobserved, the forecast rule undecided at some grid steps."""
    observed = np.arange(values.size) % 3 != 1
    residual = np.r_[np.nan, np.diff(values)][start:]
    return RuleInputs(
        values=values,
        observed=observed,
        steps=steps,
        start=start,
        residual=np.where(observed[start:], residual, np.nan),
        undecided=steps[start:] % 50 < 10,
        reference_scale=0.5,
        min_score=MIN_SCORE,
    )


def shifting_values(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy readings with level shifts, spikes and a stuck run, on a grid with jumps."""
    values, steps = repeating_values(n, seed)
    rng = np.random.default_rng(seed)
    levels = np.repeat(rng.normal(0, 15, n // 100 + 1), 100)[:n]
    values = values + levels
    values[rng.choice(n, size=6, replace=False)] += 80
    return values, steps


def run_rule(rule: Rule, values: np.ndarray, steps: np.ndarray, start: int) -> list[np.ndarray]:
    flags = rule.flags(contract_inputs(values, steps, start))
    return [flags.flagged, flags.score, flags.threshold]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_rule_never_looks_ahead(rule: type[Rule]) -> None:
    built = small_rule(rule)
    values, steps = shifting_values(600, seed=7)
    full = run_rule(built, values, steps, 0)
    assert full[0].any(), f"{rule.name} flags nothing on readings with shifts, spikes and runs"
    for cut in (1, 150, 377, 599):
        for got, want in zip(run_rule(built, values[:cut], steps[:cut], 0), full, strict=True):
            assert_array_equal(got, want[:cut])


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_rule_is_bit_identical_with_only_its_declared_history(rule: type[Rule]) -> None:
    built = small_rule(rule)
    values, steps = shifting_values(700, seed=8)
    history = built.history
    for start in (history, 333, 699):
        begin = start - history
        # The observed mask follows the position, so slice at a multiple of 3.
        begin -= begin % 3
        sliced = run_rule(built, values[begin:], steps[begin:], start - begin)
        for got, want in zip(sliced, run_rule(built, values, steps, start), strict=True):
            assert_array_equal(got, want)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_rule_flags_only_observed_points_and_scores_in_range(rule: type[Rule]) -> None:
    built = small_rule(rule)
    values, steps = shifting_values(600, seed=9)
    inputs = contract_inputs(values, steps, 100)
    flags = built.flags(inputs)
    assert flags.flagged.shape == flags.score.shape == flags.threshold.shape == (500,)
    assert not flags.flagged[~np.isfinite(inputs.residual)].any()
    assert (flags.score[flags.flagged] >= MIN_SCORE).all()
    assert (flags.score[flags.flagged] <= 1).all()
    assert np.isnan(flags.score[~flags.flagged]).all()
    assert np.isfinite(flags.threshold[flags.flagged]).all()
