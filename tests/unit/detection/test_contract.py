"""The contract every registered scorer and threshold keeps: registered with its settings, no
look-ahead, bit-identical with only its declared history, NaN-safe, results in range."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from forecaster.detection.parts import DetectionPart
from forecaster.detection.registry import SCORERS, THRESHOLDS
from forecaster.detection.scores.base import Scorer
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
