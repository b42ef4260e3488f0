"""Stuck sensors: a run of repeated readings much longer than the series' usual runs; pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from forecaster.config.strict import StrictModel
from forecaster.detection.arrays import FloatArray, IntArray, as_1d
from forecaster.detection.parts import check_history_fits_window
from forecaster.detection.rules import RuleFlags, RuleInputs, excess_score


class StuckSettings(StrictModel):
    """`detection.stuck`: flag a sensor that keeps repeating one reading."""

    enabled: bool = Field(default=True, description="Run the stuck-run rule.")
    min_run: int = Field(
        default=10,
        ge=2,
        description="Shortest run of repeated readings ever flagged (points, filled points "
        "of short gaps included): the limit for a series whose readings rarely repeat.",
    )
    factor: float = Field(
        default=3.0,
        ge=1.0,
        description="A run is flagged once it is longer than this multiple of the longest "
        "earlier run in the window, so series that repeat values by nature (counts, "
        "quantized or idle sensors) get a limit of their own; 3 leaves room for an idle "
        "weekend after idle nights (two to three times as long).",
    )
    window: int = Field(
        default=2000,
        ge=2,
        description="Grid steps of history a point is judged on (the current run is "
        "measured within it too).",
    )
    min_history: int = Field(
        default=200,
        ge=1,
        description="Fewest points before the current run, inside the window, a judgement "
        "needs: a series' first points are never stuck, and neither is a run that fills "
        "nearly all of the window (it is the series' new normal). At most `window`.",
    )
    tolerance: float = Field(
        default=1e-9,
        ge=0.0,
        lt=1.0,
        description="Readings within this relative difference count as repeated (so "
        "averaging identical raw points into one bin keeps a run).",
    )

    @model_validator(mode="after")
    def _history_fits_window(self) -> Self:
        check_history_fits_window(self.min_history, self.window)
        return self


@dataclass(frozen=True)
class StuckRuns:
    """For each decided point: its run's length so far, the limit, and whether it is judged."""

    length: IntArray  # points of the current run within the window, this point included
    limit: IntArray  # the run length at which the run is flagged
    judged: np.ndarray  # enough history before the run (else never flagged)


class StuckRule:
    """Flags point t when the run of repeated readings ending at t has reached
    max(min_run, floor(factor * longest earlier run) + 1) points.

    Runs, their lengths and the longest earlier run are measured inside the window of the
    `window` grid steps ending at t (a run reaching back further counts from the window's
    start), so a decision depends on at most `window` positions before t and is bit-identical
    for any input that holds them. Consecutive points are a run when their grid steps are
    adjacent and their values equal within `tolerance` (relative). Every point of a run from
    the one that reaches the limit on is flagged, while the run leaves `min_history` points
    of the window before it.
    """

    def __init__(
        self,
        *,
        min_run: int = 10,
        factor: float = 3.0,
        window: int = 2000,
        min_history: int = 200,
        tolerance: float = 1e-9,
    ) -> None:
        if min_run < 2 or factor < 1 or not 1 <= min_history <= window or not tolerance >= 0:
            raise ValueError(
                f"invalid stuck rule: min_run={min_run}, factor={factor}, window={window}, "
                f"min_history={min_history}, tolerance={tolerance}"
            )
        self.min_run = min_run
        self.factor = factor
        self.window = window
        self.min_history = min_history
        self.tolerance = tolerance

    name: ClassVar[str] = "stuck"

    @classmethod
    def from_settings(cls, settings: StuckSettings) -> Self:
        return cls(**settings.model_dump(exclude={"enabled"}))

    def flags(self, inputs: RuleInputs) -> RuleFlags:
        """`decide` for the points with a residual (a filled point is never stuck itself)."""
        flags = self.decide(inputs.values, inputs.steps, inputs.start, inputs.min_score)
        flagged = flags.flagged & np.isfinite(inputs.residual)
        return RuleFlags(
            flagged,
            np.where(flagged, flags.score, np.nan),
            np.where(flagged, flags.threshold, np.nan),
        )

    @property
    def history(self) -> int:
        """Positions before a decided point its decision may depend on."""
        return self.window

    def runs(self, values: npt.ArrayLike, steps: npt.ArrayLike, start: int = 0) -> StuckRuns:
        """Run lengths, limits and judged flags of positions start..len-1."""
        x = as_1d(values, "values")
        grid = np.asarray(steps, dtype=np.int64)
        if grid.shape != x.shape or not 0 <= start <= x.size:
            raise ValueError(f"values {x.shape}, steps {grid.shape} and start {start} disagree")
        run_of, run_start, run_length = _runs(x, grid, self.tolerance)
        decided = np.arange(start, x.size)
        first = np.searchsorted(grid, grid[decided] - self.window + 1)  # window's first position
        current = run_of[decided]
        begins = np.maximum(run_start[current], first)
        longest = _longest_earlier(run_of, run_start, run_length, first, current)
        limit = np.maximum(self.min_run, np.floor(self.factor * longest).astype(np.int64) + 1)
        judged = begins - first >= self.min_history
        return StuckRuns(length=decided - begins + 1, limit=limit, judged=judged)

    def decide(
        self, values: npt.ArrayLike, steps: npt.ArrayLike, start: int, min_score: float
    ) -> RuleFlags:
        """Flags of positions start.. (see the class), scored by `excess_score` of the run
        length against its limit; the threshold reported is the limit (points)."""
        runs = self.runs(values, steps, start)
        flagged = runs.judged & (runs.length >= runs.limit)
        length = runs.length.astype(np.float64)
        limit = runs.limit.astype(np.float64)
        score = np.where(flagged, excess_score(length, limit, min_score), np.nan)
        return RuleFlags(flagged, score, np.where(flagged, limit, np.nan))


def _runs(values: FloatArray, steps: IntArray, tolerance: float) -> tuple[IntArray, ...]:
    """Run number of every position, and each run's first position and length."""
    if values.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    previous, current = values[:-1], values[1:]
    with np.errstate(over="ignore", invalid="ignore"):
        close = np.abs(current - previous) <= tolerance * np.maximum(
            np.abs(current), np.abs(previous)
        )
    linked = np.concatenate([[False], close & (np.diff(steps) == 1)])
    run_of = np.cumsum(~linked) - 1
    run_start = np.flatnonzero(~linked)
    run_length = np.diff(np.append(run_start, values.size))
    return run_of, run_start, run_length


def _longest_earlier(
    run_of: IntArray,
    run_start: IntArray,
    run_length: IntArray,
    first: IntArray,
    current: IntArray,
) -> IntArray:
    """For each decided point: the longest run before its current run that ends inside its
    window (the run holding the window's first position counted from there); 0 if none."""
    straddling = run_of[np.minimum(first, run_of.size - 1)]
    cut = run_start[straddling] + run_length[straddling] - first  # its part inside the window
    longest = np.where(straddling < current, cut, 0)
    inside = _range_max(run_length, straddling + 1, current)  # runs wholly in the window
    return np.maximum(longest, inside)


def _range_max(lengths: IntArray, lo: IntArray, hi: IntArray) -> IntArray:
    """max(lengths[lo[k]:hi[k]]) for every k (0 for an empty range), by a sparse table."""
    table = [lengths]
    while 2 ** len(table) <= lengths.size:
        half = 2 ** (len(table) - 1)
        table.append(np.maximum(table[-1][:-half], table[-1][half:]))
    size = hi - lo
    result = np.zeros(size.size, dtype=np.int64)
    some = size > 0
    if not some.any():
        return result
    level = np.floor(np.log2(size[some])).astype(np.int64)
    a, b = lo[some], hi[some] - 2**level
    for k in np.unique(level):
        pick = level == k
        row = table[int(k)]
        result[np.flatnonzero(some)[pick]] = np.maximum(row[a[pick]], row[b[pick]])
    return result
