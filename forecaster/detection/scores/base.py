"""The scorer contract: how unusual each point of a signal is, in [0, 1], without look-ahead."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import numpy.typing as npt

from forecaster.detection.arrays import BoolArray, FloatArray, as_1d
from forecaster.detection.parts import DetectionPart


class Scorer(DetectionPart):
    """Scores positions start.. of a signal (such as a smoothed error; NaN: none there).

    `score` validates its input and calls `_scores`, which a subclass implements. A score
    for position t uses signal[:t+1] only and lies in [0, 1] or is NaN (too little history,
    or no signal at t); 1 is the most unusual.
    """

    def score(self, signal: npt.ArrayLike, start: int = 0) -> FloatArray:
        """Scores of positions start..len-1 (the array has that length)."""
        return self._scores(_signal(signal, start), start)

    def score_where(self, signal: npt.ArrayLike, start: int, wanted: npt.ArrayLike) -> FloatArray:
        """Scores of positions start..len-1 where `wanted` (a mask of that length), for a
        caller that reads a few of them (the forecast rule reads those its threshold flags).
        Elsewhere the score or, from a scorer that skips the work there, 0.0; NaN exactly
        where `score` is NaN either way, so which points can be scored is still known."""
        values = _signal(signal, start)
        mask = np.asarray(wanted, dtype=bool)
        if mask.shape != (values.size - start,):
            raise ValueError(f"wanted must have {values.size - start} values, got {mask.shape}")
        return self._scores_where(values, start, mask)

    def _scores_where(self, values: FloatArray, start: int, wanted: BoolArray) -> FloatArray:
        """`score_where` of the validated signal: by default every score."""
        return self._scores(values, start)

    @abstractmethod
    def _scores(self, values: FloatArray, start: int) -> FloatArray:
        """Scores of positions start..len-1 of the validated signal."""


def _signal(signal: npt.ArrayLike, start: int) -> FloatArray:
    """The signal as a 1-d float array, with `start` checked against its length."""
    values = as_1d(signal, "signal")
    if not 0 <= start <= values.size:
        raise ValueError(f"start must be in 0..{values.size}, got {start}")
    return values
