"""The scorer contract: how unusual each point of a signal is, in [0, 1], without look-ahead."""

from __future__ import annotations

from abc import abstractmethod

import numpy.typing as npt

from forecaster.detection.arrays import FloatArray, as_1d
from forecaster.detection.parts import DetectionPart


class Scorer(DetectionPart):
    """Scores positions start.. of a signal (such as a smoothed error; NaN: none there).

    `score` validates its input and calls `_scores`, which a subclass implements. A score
    for position t uses signal[:t+1] only and lies in [0, 1] or is NaN (too little history,
    or no signal at t); 1 is the most unusual.
    """

    def score(self, signal: npt.ArrayLike, start: int = 0) -> FloatArray:
        """Scores of positions start..len-1 (the array has that length)."""
        values = as_1d(signal, "signal")
        if not 0 <= start <= values.size:
            raise ValueError(f"start must be in 0..{values.size}, got {start}")
        return self._scores(values, start)

    @abstractmethod
    def _scores(self, values: FloatArray, start: int) -> FloatArray:
        """Scores of positions start..len-1 of the validated signal."""
