"""The stuck-run rule: runs of repeated readings judged against the series' own usual runs."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from forecaster.config.detection import DetectionSettings
from forecaster.detection.stuck import StuckRule, StuckSettings

MIN_SCORE = 0.94


def flagged_positions(rule: StuckRule, values: np.ndarray, steps: np.ndarray | None = None):
    grid = np.arange(len(values)) if steps is None else steps
    return np.flatnonzero(rule.decide(values, grid, 0, MIN_SCORE).flagged)


def boiler_like(n: int = 2400, seed: int = 5) -> np.ndarray:
    """An hourly temperature: daily cycle, slow wander, noise, rounded to 4 decimals (as the
    demo's boiler_temp)."""
    rng = np.random.default_rng(seed)
    wander = np.zeros(n)
    for i in range(1, n):
        wander[i] = 0.95 * wander[i - 1] + rng.normal(0, 0.15)
    hours = np.arange(n)
    values = 70 + 4 * np.sin(2 * np.pi * hours / 24) + wander + rng.normal(0, 0.3, n)
    return np.round(values, 4)


def test_run_lengths_and_limits_by_hand() -> None:
    rule = StuckRule(min_run=3, factor=2.0, window=10, min_history=3, tolerance=0.0)
    values = np.array([1, 2, 3, 4, 4, 5, 6, 6, 6, 6, 6, 6, 7], dtype=float)
    runs = rule.runs(values, np.arange(13), 4)
    # i=4: run [3, 4]; earlier runs of 1 -> limit max(3, 2*1 + 1); i=6..11: the run from 6,
    # whose earlier runs in the window are at most 2 long -> limit 5; i=12: after a run of 6.
    assert runs.length.tolist() == [2, 1, 1, 2, 3, 4, 5, 6, 1]
    assert runs.limit.tolist() == [3, 5, 5, 5, 5, 5, 5, 5, 13]
    result = rule.decide(values, np.arange(13), 4, MIN_SCORE)
    assert np.flatnonzero(result.flagged).tolist() == [6, 7]  # positions 10 and 11
    # The run reaching its limit scores min_score, a longer one more; the limit is reported.
    np.testing.assert_allclose(result.score[[6, 7]], [MIN_SCORE, 1 - (1 - MIN_SCORE) * 5 / 6])
    assert result.threshold[6] == 5.0 and np.isnan(result.threshold[0])


def test_a_stuck_boiler_sensor_is_flagged_from_the_limit_to_the_end_of_the_run() -> None:
    values = boiler_like()
    values[1500:1530] = values[1500]  # stuck for 30 hours, as in the demo
    flagged = flagged_positions(StuckRule(), values)
    # Readings never repeat otherwise: the limit is min_run (10) points.
    assert flagged.tolist() == list(range(1509, 1530))


def test_noisy_and_quantized_series_raise_no_stuck_alarm() -> None:
    rng = np.random.default_rng(1)
    n = 6000
    noisy = rng.normal(0, 1, n)
    coarse = np.round(20 + np.cumsum(rng.normal(0, 0.02, n)), 1)  # 0.1 steps: runs of several
    counts = rng.poisson(0.3, n).astype(float)  # mostly zeros: runs of ten or more zeros
    for values in (noisy, coarse, counts):
        assert flagged_positions(StuckRule(), values).size == 0


def test_a_count_series_is_stuck_only_far_beyond_its_own_runs() -> None:
    rng = np.random.default_rng(2)
    counts = rng.poisson(0.3, 4000).astype(float)
    counts[3000:3200] = 2.0
    rule = StuckRule()
    runs = rule.runs(counts, np.arange(4000), 3000)
    flagged = np.flatnonzero(rule.decide(counts, np.arange(4000), 3000, MIN_SCORE).flagged)
    assert flagged.size and flagged.max() < 200  # only inside the stuck run
    first = flagged[0]
    assert runs.limit[first] > 30  # its zeros run ten and more: a limit of its own
    assert runs.length[first] == runs.limit[first]


def reference_flags(rule: StuckRule, values: np.ndarray, steps: np.ndarray) -> list[bool]:
    """The rule's definition, point by point."""

    def linked(j: int) -> bool:
        a, b = values[j - 1], values[j]
        close = abs(b - a) <= rule.tolerance * max(abs(a), abs(b))
        return bool(steps[j] == steps[j - 1] + 1 and close)

    out = []
    for i in range(len(values)):
        first = int(np.searchsorted(steps, steps[i] - rule.window + 1))
        begin = i
        while begin > first and linked(begin):
            begin -= 1
        longest = length = 0
        for j in range(first, begin):
            length = length + 1 if j > first and linked(j) else 1
            longest = max(longest, length)
        limit = max(rule.min_run, int(np.floor(rule.factor * longest)) + 1)
        out.append(begin - first >= rule.min_history and i - begin + 1 >= limit)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_vectorised_rule_matches_its_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 700
    values = np.round(rng.normal(0, 1, n), 0) * (rng.random(n) < 0.5)  # long zero runs
    for begin in rng.choice(n - 40, size=4, replace=False):
        values[begin : begin + int(rng.integers(5, 40))] = rng.normal()
    values[rng.random(n) < 0.01] = np.nan
    steps = np.cumsum(rng.choice([1, 1, 1, 1, 1, 1, 1, 3], size=n))
    rule = StuckRule(min_run=4, factor=1.5, window=120, min_history=20)
    got = rule.decide(values, steps, 0, MIN_SCORE).flagged
    assert got.tolist() == reference_flags(rule, values, steps)
    assert got.any()


def test_a_short_history_is_never_stuck() -> None:
    values = np.r_[np.arange(50.0), np.full(300, 7.0)]  # 50 readings, then one repeated
    rule = StuckRule(min_history=100)
    assert flagged_positions(rule, values).size == 0
    assert flagged_positions(rule, np.full(500, 3.0)).size == 0  # flat from the first point


def test_a_run_that_fills_the_window_is_the_new_normal() -> None:
    rule = StuckRule(min_run=3, factor=2.0, window=20, min_history=5)
    values = np.r_[np.arange(50.0), np.full(40, -1.0)]
    # Run length L leaves 20 - L points of the window before it: judged up to L = 15.
    assert flagged_positions(rule, values).tolist() == list(range(52, 65))


def test_a_long_gap_breaks_a_run_and_tiny_relative_differences_do_not() -> None:
    rule = StuckRule(min_run=5, factor=2.0, window=100, min_history=10)
    values = np.r_[np.arange(30.0), np.full(8, 1.5)]
    steps = np.arange(38)
    steps[34:] += 50  # a long gap after four repeats: two runs of four
    assert flagged_positions(rule, values, steps).size == 0
    assert flagged_positions(rule, values).tolist() == [34, 35, 36, 37]
    jitter = values.copy()
    jitter[30:] *= 1 + np.array([0, 1, -1, 2, 0, 1, -2, 0]) * 1e-13  # bin averages' rounding
    assert flagged_positions(rule, jitter).tolist() == [34, 35, 36, 37]
    assert (
        flagged_positions(
            StuckRule(min_run=5, factor=2.0, window=100, min_history=10, tolerance=0.0), jitter
        ).size
        == 0
    )


def test_stuck_settings_are_strict_and_checked() -> None:
    settings = DetectionSettings()
    assert settings.stuck.enabled and settings.stuck.min_run == 10
    assert settings.stuck.factor == 3.0 and settings.stuck.window == 2000
    off = DetectionSettings.model_validate({"stuck": {"enabled": False}})
    assert not off.stuck.enabled
    with pytest.raises(ValidationError, match="extra"):
        DetectionSettings.model_validate({"stuck": {"min_runs": 5}})
    with pytest.raises(ValidationError, match="min_history"):
        StuckSettings(window=50, min_history=100)
    with pytest.raises(ValidationError):
        StuckSettings(min_run=1)
