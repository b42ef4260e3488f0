"""Every scorer, threshold and rule by name: the lists a new detection part is added to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from forecaster.detection.extreme import ExtremeRule
from forecaster.detection.parts import DetectionPart, PartSettings
from forecaster.detection.range import RangeRule
from forecaster.detection.rules import Rule
from forecaster.detection.scores.base import Scorer
from forecaster.detection.scores.likelihood import LikelihoodScorer
from forecaster.detection.scores.tail import TailScorer
from forecaster.detection.shift import ShiftRule
from forecaster.detection.stuck import StuckRule
from forecaster.detection.thresholds.base import Threshold
from forecaster.detection.thresholds.dynamic import DynamicThreshold
from forecaster.detection.thresholds.robust import RobustThreshold
from forecaster.detection.thresholds.static import StaticThreshold

# A new part is one file (its settings and its class) plus one line here; the config's
# `detection.scorer` and `detection.threshold` sections accept every part listed.
SCORERS: tuple[type[Scorer], ...] = (TailScorer, LikelihoodScorer)
THRESHOLDS: tuple[type[Threshold], ...] = (DynamicThreshold, StaticThreshold, RobustThreshold)

# The rules beside the forecast rule, in the order their signals are listed: each is named
# after its `detection` section (settings with `enabled`) and built from it.
RULES: tuple[type[Rule], ...] = (ExtremeRule, StuckRule, RangeRule, ShiftRule)

Part = TypeVar("Part", bound=DetectionPart)


def by_name(parts: Sequence[type[Part]]) -> dict[str, type[Part]]:
    """The parts of a registry list keyed by their names."""
    return {part.name: part for part in parts}


def build(parts: Sequence[type[Part]], settings: PartSettings) -> Part:
    """The part `settings.method` names, built from those settings."""
    known = by_name(parts)
    if settings.method not in known:
        raise ValueError(f"unknown method {settings.method!r} (known: {', '.join(known)})")
    return known[settings.method].from_settings(settings)


def scorer_from(settings: PartSettings) -> Scorer:
    """The scorer of a `detection.scorer` section."""
    return build(SCORERS, settings)


def threshold_from(settings: PartSettings) -> Threshold:
    """The threshold of a `detection.threshold` section."""
    return build(THRESHOLDS, settings)


def rules_from(settings: Any) -> tuple[Rule, ...]:
    """The enabled rules of a `detection` section (DetectionSettings), in RULES order."""
    sections = [(rule, getattr(settings, rule.name)) for rule in RULES]
    return tuple(rule.from_settings(section) for rule, section in sections if section.enabled)
