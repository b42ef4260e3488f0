"""What one series' decisions can carry to its next step: smoothed errors and threshold fits.

A daemon cycle (or a backfill's next chunk) decides a few new points over a context of a few
thousand that the step before it decided too. The smoothed errors of that context and the
threshold levels fitted on it are pure functions of their input windows, so a memo of them is
reused wherever the new input holds the same window (compared value for value, never assumed)
and computed afresh everywhere else: the decisions are the same bits with or without it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from forecaster.detection.arrays import BoolArray, FloatArray, IntArray
from forecaster.detection.errors import smooth_errors

# Threshold fits kept per side: the current refit's and a few before it (a catch-up's steps).
MAX_FITS = 4

LevelFit = Callable[[FloatArray, BoolArray, float | None], float]


@dataclass
class _Smoothed:
    """One side's last smoothing: its input, grid steps and output."""

    steps: IntArray
    errors: FloatArray
    smoothed: FloatArray
    kernel: tuple[int, int]  # (span, length)


@dataclass
class FitMemo:
    """Threshold levels by the exact content of their fit window (and reference scale)."""

    _levels: OrderedDict[bytes, float] = field(default_factory=OrderedDict)

    def level(
        self, history: FloatArray, linked: BoolArray, reference_scale: float | None, fit: LevelFit
    ) -> float:
        """`fit(history, linked, reference_scale)`, from the memo when the window is unchanged."""
        digest = hashlib.blake2b(digest_size=20)
        digest.update(np.ascontiguousarray(history).tobytes())
        digest.update(np.ascontiguousarray(linked).tobytes())
        digest.update(repr(reference_scale).encode())
        key = digest.digest()
        if key in self._levels:
            self._levels.move_to_end(key)
            return self._levels[key]
        level = fit(history, linked, reference_scale)
        self._levels[key] = level
        while len(self._levels) > MAX_FITS:
            self._levels.popitem(last=False)
        return level


@dataclass
class DetectionMemo:
    """A series' carried detection state; an empty one computes everything. Bound to one
    detector: another detector (new settings) starts it empty."""

    owner: object | None = None
    _smoothed: dict[str, _Smoothed] = field(default_factory=dict)
    _fits: dict[str, FitMemo] = field(default_factory=dict)

    def bind(self, owner: object) -> None:
        """Use the memo for `owner`'s decisions (forgetting another owner's)."""
        if self.owner is not owner:
            self.owner, self._smoothed, self._fits = owner, {}, {}

    def fits(self, side: str) -> FitMemo:
        return self._fits.setdefault(side, FitMemo())

    def smooth(
        self, side: str, errors: FloatArray, steps: IntArray, span: int, length: int
    ) -> FloatArray:
        """`smooth_errors(errors, span, length)`, reusing the outputs of the side's last call
        whose whole kernel window holds the same errors at the same grid steps."""
        kernel = (span, length)
        previous = self._smoothed.get(side)
        reuse = (0, 0) if previous is None else _reusable(previous, errors, steps, kernel)
        out = _smooth_around(errors, span, length, reuse, previous)
        self._smoothed[side] = _Smoothed(steps.copy(), errors.copy(), out.copy(), kernel)
        return out


def _reusable(
    previous: _Smoothed, errors: FloatArray, steps: IntArray, kernel: tuple[int, int]
) -> tuple[int, int]:
    """(offset, stop): positions length-1..stop-1 of the new input equal the previous one's at
    offset.. in errors (NaN equal to NaN) and steps, for every position of their window; stop 0
    when nothing is reusable."""
    length = kernel[1]
    if previous.kernel != kernel or not steps.size:
        return 0, 0
    offset = int(np.searchsorted(previous.steps, steps[0]))
    overlap = min(previous.steps.size - offset, steps.size)
    if overlap < length or previous.steps[offset] != steps[0]:
        return 0, 0
    old_errors = previous.errors[offset : offset + overlap]
    new_errors = errors[:overlap]
    same = (previous.steps[offset : offset + overlap] == steps[:overlap]) & (
        (old_errors == new_errors) | (np.isnan(old_errors) & np.isnan(new_errors))
    )
    differs = np.flatnonzero(~same)
    stop = overlap if differs.size == 0 else int(differs[0])
    return (offset, stop) if stop >= length else (0, 0)


def _smooth_around(
    errors: FloatArray,
    span: int,
    length: int,
    reuse: tuple[int, int],
    previous: _Smoothed | None,
) -> FloatArray:
    """The smoothed errors, copied from `previous` at positions length-1..stop-1 and computed
    elsewhere (an output depends only on the `length` errors ending at it)."""
    offset, stop = reuse
    if previous is None or stop == 0:
        return smooth_errors(errors, span, length)
    out = np.empty(errors.size, dtype=np.float64)
    out[: length - 1] = smooth_errors(errors[: length - 1], span, length)
    out[length - 1 : stop] = previous.smoothed[offset + length - 1 : offset + stop]
    if stop < errors.size:
        begin = stop - length + 1
        out[stop:] = smooth_errors(errors[begin:], span, length)[length - 1 :]
    return out
