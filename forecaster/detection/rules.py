"""The rules beside the forecast rule (extreme residual, stuck run, value range): what each
reads, what it returns, and how a flagged measure becomes a score; pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from forecaster.detection.arrays import BoolArray, FloatArray, IntArray


@dataclass(frozen=True)
class RuleFlags:
    """One rule's results for the decided positions (arrays of equal length)."""

    flagged: BoolArray
    score: FloatArray  # in [min_score, 1) where flagged; NaN elsewhere
    threshold: FloatArray  # the rule's level that was reached (NaN where none applies)


@dataclass(frozen=True)
class RuleInputs:
    """What a rule may judge positions start.. of a span by: only data up to each point."""

    values: FloatArray  # the span's regular values (filled ones included)
    observed: BoolArray  # False where a value was filled in over a short gap
    steps: IntArray  # absolute grid steps
    start: int
    residual: FloatArray  # positions start..: observed - predicted (NaN: no prediction)
    undecided: BoolArray  # positions start..: the forecast rule lacks the history to judge
    reference_scale: float | None  # the scoring model's validation RMSE, when usable
    min_score: float


class Rule(Protocol):
    """A rule beside the forecast rule: `name` is its `detection` section and its `signal`."""

    name: ClassVar[str]

    @classmethod
    def from_settings(cls, settings: Any) -> Rule:
        """The rule its `detection.<name>` section describes."""
        ...

    @property
    def history(self) -> int:
        """Positions before the first decided point its flags may depend on."""
        ...

    def flags(self, inputs: RuleInputs) -> RuleFlags:
        """Flags, scores and levels of positions inputs.start.."""
        ...


def no_flags(size: int) -> RuleFlags:
    """Nothing flagged among `size` positions."""
    return RuleFlags(np.zeros(size, bool), np.full(size, np.nan), np.full(size, np.nan))


def excess_score(measure: FloatArray, level: FloatArray, min_score: float) -> FloatArray:
    """1 - (1 - min_score) * level / measure: `min_score` where a measure just reaches its
    level, approaching 1 as it grows; so a point flagged by a rule always passes the
    `score >= min_score` cut of the forecast rule. NaN where measure < level."""
    with np.errstate(divide="ignore", invalid="ignore"):
        score = 1.0 - (1.0 - min_score) * (level / measure)
    return np.where(measure >= level, np.clip(score, 0.0, 1.0), np.nan)
