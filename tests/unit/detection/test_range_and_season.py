"""The range rule, the seasonal forgiveness of forecast errors and the rule registry, on
hand-computed arrays."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from forecaster.config.detection import DetectionSettings
from forecaster.detection.range import RangeRule, RangeSettings
from forecaster.detection.registry import RULES, rules_from
from forecaster.detection.seasonal import SeasonalSettings, explained_by_season
from tests.helpers.rules import rule_inputs


def test_a_reading_outside_the_widened_range_is_flagged() -> None:
    rule = RangeRule(window=4, margin=0.25, min_history=2)
    flags = rule.flags(rule_inputs([0, 1, 0, 1, 1.2, 1.3, 2.0, -0.3], start=4))
    # Position 4: readings 0, 1, 0, 1 -> middle 0.5, half-range 0.5 widened to 0.75: |0.7| in.
    # Position 5: [0, 1.2] -> middle 0.6, 0.9: |0.7| in. Position 6: [0, 1.3] -> 0.65, 0.975:
    # |1.35| out. Position 7: [1, 2] -> 1.5, 0.75: |-1.8| out.
    assert flags.flagged.tolist() == [False, False, True, True]
    assert flags.threshold[2:].tolist() == pytest.approx([0.975, 0.75])
    # excess_score: 1 - (1 - 0.9) * 0.975 / 1.35
    assert flags.score[2] == pytest.approx(1 - 0.1 * 0.975 / 1.35)
    assert np.isnan(flags.score[:2]).all()


def test_the_range_rule_skips_filled_readings_and_needs_history() -> None:
    rule = RangeRule(window=3, margin=0.0, min_history=2)
    # Position 3 sees readings 0, (5 filled: skipped), 1 -> range [0, 1]: 3 is outside.
    flags = rule.flags(rule_inputs([0, 5, 1, 3], start=3, observed=[True, False, True, True]))
    assert flags.flagged.tolist() == [True]
    # Too little history: position 1 sees one reading only.
    assert not rule.flags(rule_inputs([0, 9], start=1)).flagged.any()
    # A constant window has no range: nothing is "outside" it.
    assert not rule.flags(rule_inputs([2, 2, 2, 7], start=3)).flagged.any()


def test_range_rule_results_do_not_depend_on_history_before_its_window() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(0, 1, 300)
    values[250] = 9.0
    rule = RangeRule(window=50, margin=0.1, min_history=20)
    whole = rule.flags(rule_inputs(values.tolist(), start=240))
    sliced = rule.flags(rule_inputs(values[240 - rule.history :].tolist(), start=rule.history))
    assert_array_equal(whole.flagged, sliced.flagged)
    assert_array_equal(whole.score, sliced.score)
    assert whole.flagged[10]


def test_an_error_as_large_as_one_a_season_earlier_is_explained() -> None:
    settings = SeasonalSettings(ratio=1.5, slack=0)
    residual = np.array([0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 4.0, -5.0])
    steps = np.arange(8, dtype=np.int64)
    explained = explained_by_season(residual, steps, 4, 4, settings)
    # |4| < 1.5 * |3| (step 2): explained; |-5| is not below 1.5 * 0 (step 3).
    assert explained.tolist() == [False, False, True, False]


def test_the_seasonal_slack_searches_either_side_and_gaps_explain_nothing() -> None:
    residual = np.array([0.0, 3.0, 0.0, 0.0, 0.0, 4.0, np.nan, 4.0])
    steps = np.array([0, 1, 2, 3, 4, 5, 6, 20], dtype=np.int64)
    slack = SeasonalSettings(ratio=1.5, slack=1)
    # Step 5 with season 5: steps 0, 1 (|3|: explains 4) or none beyond (shift 6 is step -1).
    assert explained_by_season(residual, steps, 5, 5, slack).tolist() == [True, False, False]
    # Without a season, or disabled, nothing is explained.
    assert not explained_by_season(residual, steps, 5, None, slack).any()
    off = SeasonalSettings(enabled=False)
    assert not explained_by_season(residual, steps, 5, 5, off).any()


def test_every_registered_rule_has_a_settings_section_that_builds_it() -> None:
    settings = DetectionSettings()
    for rule in RULES:
        built = rule.from_settings(getattr(settings, rule.name))
        assert built.name == rule.name and built.history >= 0
        flags = built.flags(rule_inputs([float(i % 7) for i in range(400)], start=300))
        assert flags.flagged.shape == flags.score.shape == flags.threshold.shape == (100,)
    default_on = [rule.name for rule in RULES if getattr(settings, rule.name).enabled]
    assert [r.name for r in rules_from(settings)] == default_on
    assert set(default_on) == {"extreme", "stuck", "range"}  # shift is opt-in
    off = DetectionSettings.model_validate({rule.name: {"enabled": False} for rule in RULES})
    assert rules_from(off) == ()
    on = DetectionSettings.model_validate({rule.name: {"enabled": True} for rule in RULES})
    assert [r.name for r in rules_from(on)] == [rule.name for rule in RULES]


def test_range_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="min_history"):
        RangeSettings(window=10, min_history=20)
