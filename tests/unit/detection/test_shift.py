"""The level-shift rule on hand-computed arrays: the recent mean and the point's own reading
against the history's mean and spread."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.detection.shift import ShiftRule, ShiftSettings
from tests.helpers.rules import rule_inputs


def test_a_sustained_move_of_the_level_is_flagged_once_the_recent_mean_has_moved() -> None:
    rule = ShiftRule(short=2, window=4, factor=2.0, min_history=4)
    # Position 5: history (positions 0-3) 0, 2, 0, 2: mean 1, std 1, level 2; the recent mean
    # of 4.5, 5.5 is 4 from it and the reading 5.5 is 4.5 from it: flagged. Position 4 has
    # three positions of history only.
    flags = rule.flags(rule_inputs([0, 2, 0, 2, 4.5, 5.5], start=4))
    assert flags.flagged.tolist() == [False, True]
    assert flags.threshold[1] == pytest.approx(2.0)
    assert flags.score[1] == pytest.approx(1 - 0.1 * 2.0 / 4.0)
    assert np.isnan(flags.score[0]) and np.isnan(flags.threshold[0])


def test_a_single_spike_or_a_return_to_normal_is_not_a_shift() -> None:
    rule = ShiftRule(short=2, window=4, factor=2.0, min_history=4)
    # History of position 7: positions 2-5 (0, 2, 0, 2): mean 1, level 2. A lone spike to 6
    # moves the recent mean to 3 only (2 from the mean: not beyond).
    assert rule.flags(rule_inputs([0, 2, 0, 2, 0, 2, 0, 6], start=7)).flagged.tolist() == [False]
    # A normal reading after a spike: the recent mean (5) moved, its own reading (1) did not.
    assert rule.flags(rule_inputs([0, 2, 0, 2, 0, 2, 9, 1], start=7)).flagged.tolist() == [False]
    # Opposite sides: the recent mean of 9, 9, -3 is high, the point's own reading far low.
    rule = ShiftRule(short=3, window=4, factor=1.0, min_history=4)
    assert rule.flags(rule_inputs([0, 2, 0, 2, 0, 2, 9, 9, -3], start=8)).flagged.tolist() == [
        False
    ]


def test_filled_readings_are_skipped_and_history_is_needed() -> None:
    rule = ShiftRule(short=1, window=4, factor=2.0, min_history=3)
    # The filled 50 counts neither in the history nor as a reading of its own.
    seen = [True, False, True, True, True, True]
    flags = rule.flags(rule_inputs([0, 50, 2, 0, 2, 50], start=4, observed=seen))
    assert flags.flagged.tolist() == [False, True]
    # Too little history: two readings before position 2.
    assert not rule.flags(rule_inputs([0, 2, 50], start=2)).flagged.any()
    # A constant history has no spread: nothing moved "beyond" it.
    assert not rule.flags(rule_inputs([3, 3, 3, 3, 3, 9], start=5)).flagged.any()


def test_shift_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="min_history"):
        ShiftSettings(window=10, min_history=20)
    with pytest.raises(ValueError):
        ShiftRule(short=0)
    assert not ShiftSettings().enabled
