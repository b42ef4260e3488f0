"""Anomaly thresholds on smoothed errors (dynamic, static, robust), chosen by name; pure numpy."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from forecaster.detection_settings import ThresholdSettings

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: Scale factor that makes the median absolute deviation a consistent estimate of the
#: standard deviation of normally distributed data.
MAD_TO_STD = 1.4826


@dataclass(frozen=True)
class ThresholdResult:
    """Decisions for positions start..len-1 of the errors given to `Threshold.decide`."""

    threshold: FloatArray  # ε per decided point; NaN where no level could be fitted
    anomalous: BoolArray  # True where the point is judged anomalous


@dataclass(frozen=True)
class _Series:
    """Validated input plus the finite-only view the window rules are defined on."""

    errors: FloatArray
    steps: IntArray
    start: int
    finite_pos: IntArray  # positions of finite errors, increasing
    finite_values: FloatArray  # errors[finite_pos]
    # linked[i]: finite_values[i] directly follows finite_values[i-1] on the grid (step + 1)
    linked: BoolArray


class Threshold(ABC):
    """A rule that turns smoothed errors into anomaly decisions without look-ahead.

    `decide` validates its input and then calls the small methods a subclass implements.
    The decision for position t uses errors[:t+1] only, so appending points never changes
    an earlier decision, and `decide(e, s, 0)` restricted to t.. equals `decide(e, s, t)`.
    Slicing the arrays is also safe as long as they start at or before `context_start`.
    """

    name: ClassVar[str]

    def decide(
        self,
        errors: npt.ArrayLike,
        steps: npt.ArrayLike,
        start: int = 0,
        *,
        reference_scale: float | None = None,
    ) -> ThresholdResult:
        """Decide positions start..len-1 of `errors` (smoothed, nonnegative, NaN = no forecast).

        `steps` are the points' absolute integer grid step numbers (strictly increasing; they
        may jump over gaps). `reference_scale` is the spread of the model's training or
        validation errors in the units of `errors` (required by the static threshold).
        """
        series = _validate(errors, steps, start, reference_scale)
        threshold = self._levels(series, reference_scale)
        decided = series.errors[series.start :]
        with np.errstate(invalid="ignore"):
            anomalous = np.isfinite(decided) & (decided > threshold)
        anomalous = self._confirm(series, threshold, anomalous)
        return ThresholdResult(threshold=threshold, anomalous=anomalous)

    def context_start(self, errors: npt.ArrayLike, steps: npt.ArrayLike, start: int) -> int:
        """First position the decisions for start.. depend on.

        `decide(errors[c:], steps[c:], start - c)` equals `decide(errors, steps, start)` for
        every c <= context_start(errors, steps, start).
        """
        return _validate(errors, steps, start, None).start

    @abstractmethod
    def _levels(self, series: _Series, reference_scale: float | None) -> FloatArray:
        """ε for each position start..len-1 (NaN where undecided)."""

    def _confirm(self, series: _Series, threshold: FloatArray, anomalous: BoolArray) -> BoolArray:
        """Hook to veto candidate anomalies (pruning); by default every candidate stands."""
        return anomalous


class WindowedThreshold(Threshold):
    """A threshold whose level is refitted on a trailing window at absolute step boundaries.

    The level for point t is fitted on the last `window` finite errors with step <= b, where
    b is the largest multiple of `refit_every` not above steps[t]. Points whose fit window
    holds fewer than `min_history` finite errors are undecided (ε NaN, not anomalous).
    """

    def __init__(self, *, window: int = 1000, refit_every: int = 100, min_history: int = 100):
        """`window`: finite errors per fit; `refit_every`: grid steps between refits;
        `min_history`: fewest finite errors a fit needs (1..window)."""
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if refit_every < 1:
            raise ValueError(f"refit_every must be >= 1, got {refit_every}")
        if not 1 <= min_history <= window:
            raise ValueError(f"min_history must be in 1..window ({window}), got {min_history}")
        self.window = window
        self.refit_every = refit_every
        self.min_history = min_history

    def context_start(self, errors: npt.ArrayLike, steps: npt.ArrayLike, start: int) -> int:
        """First position of the fit window of `start` (every later window starts later)."""
        series = _validate(errors, steps, start, None)
        if series.start == series.errors.size:
            return series.start
        end = self._fit_end(series, series.steps[series.start : series.start + 1])[0]
        first = max(0, int(end) - self.window)
        if first == 0:
            return 0
        return min(int(series.finite_pos[first]), series.start)

    def _fit_end(self, series: _Series, steps: IntArray) -> IntArray:
        """For each step: how many finite errors have step <= its refit boundary."""
        boundary = (steps // self.refit_every) * self.refit_every
        last_position = np.searchsorted(series.steps, boundary, side="right")
        return np.searchsorted(series.finite_pos, last_position, side="left").astype(np.int64)

    def _levels(self, series: _Series, reference_scale: float | None) -> FloatArray:
        ends = self._fit_end(series, series.steps[series.start :])
        unique_ends, inverse = np.unique(ends, return_inverse=True)  # one fit per refit
        levels = np.full(unique_ends.size, np.nan, dtype=np.float64)
        for i, end in enumerate(unique_ends):
            begin = max(0, int(end) - self.window)
            if end - begin < self.min_history:
                continue
            history = series.finite_values[begin:end]
            linked = series.linked[begin:end].copy()
            linked[0] = False
            levels[i] = self._level(history, linked, reference_scale)
        return np.asarray(levels[inverse.reshape(-1)], dtype=np.float64)

    @abstractmethod
    def _level(
        self, history: FloatArray, linked: BoolArray, reference_scale: float | None
    ) -> float:
        """ε fitted on finite `history` (oldest first); linked[i]: history[i] follows i-1."""


class DynamicThreshold(WindowedThreshold):
    """Nonparametric dynamic threshold with pruning (Hundman et al., KDD 2018).

    Fit: with mean m and std s of the window, ε = m + z·s for z on the grid z_min,
    z_min + z_step, .. <= z_max, taking the z maximising (Δm/m + Δs/s) / (|E_seq|² + |E_a|),
    where E_a are the errors above ε, E_seq their runs (consecutive grid steps) and Δm, Δs
    the drop of mean and std when E_a is removed; ties go to the larger z. If no z scores
    above zero, ε = m + z_max·s. A window with s = 0 gives ε = m.

    Pruning: a point t above ε is confirmed against the last `window` finite errors ending
    at t. The peaks of the runs above ε there (the run holding t truncated at t) are sorted
    descending and the largest error not above ε is appended; with j the last index whose
    relative decrease to the next value is >= `prune`, every run after j is pruned. t stays
    anomalous only if its run survives. Only errors up to t are used, so a decision is
    never revised later.
    """

    name: ClassVar[str] = "dynamic"

    def __init__(
        self,
        *,
        window: int = 1000,
        refit_every: int = 100,
        min_history: int = 100,
        z_min: float = 2.0,
        z_max: float = 10.0,
        z_step: float = 0.5,
        prune: float = 0.13,
    ):
        """`z_min`, `z_max`, `z_step`: the z grid searched; `prune`: Hundman's p (0 = off)."""
        super().__init__(window=window, refit_every=refit_every, min_history=min_history)
        if not 0 < z_min <= z_max:
            raise ValueError(f"need 0 < z_min <= z_max, got z_min={z_min}, z_max={z_max}")
        if not z_step > 0:
            raise ValueError(f"z_step must be > 0, got {z_step}")
        if not 0 <= prune < 1:
            raise ValueError(f"prune must be in [0, 1), got {prune}")
        self.z_min = z_min
        self.z_max = z_max
        self.z_step = z_step
        self.prune = prune
        count = math.floor((z_max - z_min) / z_step + 1e-9) + 1
        self._z = z_min + z_step * np.arange(count, dtype=np.float64)

    def _level(
        self, history: FloatArray, linked: BoolArray, reference_scale: float | None
    ) -> float:
        mean = float(history.mean())
        std = float(history.std())
        if not std > 0:
            return mean
        eps = mean + self._z * std
        above = history[None, :] > eps[:, None]
        below = ~above
        n_above = above.sum(axis=1)
        n_below = history.size - n_above  # >= 1: some errors are <= the mean
        mean_below = np.where(below, history, 0.0).sum(axis=1) / n_below
        dev = np.where(below, history[None, :] - mean_below[:, None], 0.0)
        std_below = np.sqrt((dev * dev).sum(axis=1) / n_below)
        run_starts = above.copy()
        run_starts[:, 1:] &= ~(above[:, :-1] & linked[None, 1:])
        n_runs = run_starts.sum(axis=1)
        gain = (mean - mean_below) / mean + (std - std_below) / std
        score = np.where(n_above > 0, gain / np.maximum(n_runs**2 + n_above, 1), -np.inf)
        if not np.any(score > 0):
            return mean + self.z_max * std
        best = score.size - 1 - int(np.argmax(score[::-1]))  # largest z among ties
        return float(eps[best])

    def _confirm(self, series: _Series, threshold: FloatArray, anomalous: BoolArray) -> BoolArray:
        if self.prune == 0 or not np.any(anomalous):
            return anomalous
        confirmed = anomalous.copy()
        candidates = np.flatnonzero(anomalous)
        ranks = np.searchsorted(series.finite_pos, candidates + series.start)
        levels = threshold[candidates]
        # Candidates sharing a level (one refit period) share the run bookkeeping.
        cuts = np.flatnonzero(levels[1:] != levels[:-1]) + 1
        for group in np.split(np.arange(candidates.size), cuts):
            group_ranks = ranks[group]
            keep = self._survivors(series, group_ranks, float(levels[group[0]]))
            confirmed[candidates[group]] = keep
        return confirmed

    def _survivors(self, series: _Series, ranks: IntArray, eps: float) -> BoolArray:
        """Pruning verdict for candidates (finite ranks, increasing) that share level `eps`.

        Equivalent to `_prune_keeps` on each candidate's trailing window, but the runs above
        `eps` are found once for the whole group. A run survives iff the descending chain of
        the peaks not above its own peak, ended by the largest non-anomalous error, has a
        relative drop >= prune somewhere: larger peaks cannot change the verdict.
        """
        low = max(0, int(ranks[0]) + 1 - self.window)
        values = series.finite_values[low : int(ranks[-1]) + 1]
        linked = series.linked[low : int(ranks[-1]) + 1].copy()
        linked[0] = False
        above = values > eps
        joined = np.zeros(values.size, dtype=np.bool_)  # above and in the run before it
        joined[1:] = above[:-1] & above[1:] & linked[1:]
        starts = above & ~joined
        run_start = np.flatnonzero(starts)
        run_id = np.cumsum(starts) - 1  # at a non-anomalous index: the last run before it
        run_last = np.flatnonzero(above & ~np.append(joined[1:], False))
        above_index = np.flatnonzero(above)
        full_peaks = np.maximum.reduceat(values[above_index], np.flatnonzero(starts[above_index]))
        quiet = np.where(above, -np.inf, values)
        keep = np.zeros(ranks.size, dtype=np.bool_)
        prune = self.prune
        for i, rank in enumerate(ranks):
            end = int(rank) - low
            begin = max(0, end + 1 - self.window)
            own = int(run_id[end])
            own_peak = float(values[max(int(run_start[own]), begin) : end + 1].max())
            first = int(run_id[begin]) + (0 if above[begin] else 1)
            others: list[float] = []
            if first < own:
                if run_start[first] < begin:  # run cut by the window start
                    others.append(float(values[begin : int(run_last[first]) + 1].max()))
                    first += 1
                others.extend(full_peaks[first:own].tolist())
                others = [peak for peak in others if peak <= own_peak]
            quiet_max = float(quiet[begin : end + 1].max())
            chain = [own_peak, *sorted(others, reverse=True)]
            chain.append(quiet_max if quiet_max > -np.inf else 0.0)
            keep[i] = any(
                (chain[k] - chain[k + 1]) / chain[k] >= prune for k in range(len(chain) - 1)
            )
        return keep


def _prune_keeps(values: FloatArray, linked: BoolArray, eps: float, prune: float) -> bool:
    """Literal Hundman pruning of one window whose last value is above `eps` (reference).

    Peaks of the runs above `eps` sorted descending, the largest non-anomalous value
    appended; with j the last index whose relative decrease to the next is >= prune, the
    runs after j are pruned. True iff the run holding the last value survives.
    """
    above = values > eps
    starts = above.copy()
    starts[1:] &= ~(above[:-1] & linked[1:])
    above_index = np.flatnonzero(above)
    run_first = np.flatnonzero(starts[above_index])
    peaks = np.maximum.reduceat(values[above_index], run_first)
    own_peak = peaks[-1]
    rest = values[~above]
    chain = np.append(np.sort(peaks)[::-1], rest.max() if rest.size else 0.0)
    decrease = (chain[:-1] - chain[1:]) / chain[:-1]
    kept = np.flatnonzero(decrease >= prune)
    if kept.size == 0:
        return False
    return bool(own_peak >= chain[kept[-1]])


class RobustThreshold(WindowedThreshold):
    """ε = median + k · 1.4826 · MAD of the fit window (refitted like every windowed threshold).

    A window with MAD 0 (mostly constant errors) gives ε = median: anything larger is flagged.
    """

    name: ClassVar[str] = "robust"

    def __init__(
        self,
        *,
        window: int = 1000,
        refit_every: int = 100,
        min_history: int = 100,
        k: float = 4.0,
    ):
        """`k`: robust standard deviations above the median."""
        super().__init__(window=window, refit_every=refit_every, min_history=min_history)
        if not k > 0:
            raise ValueError(f"k must be > 0, got {k}")
        self.k = k

    def _level(
        self, history: FloatArray, linked: BoolArray, reference_scale: float | None
    ) -> float:
        median = float(np.median(history))
        mad = float(np.median(np.abs(history - median)))
        return median + self.k * MAD_TO_STD * mad


class StaticThreshold(Threshold):
    """ε = k · reference_scale: a fixed multiple of the model's own training error spread.

    Needs no history: every position is decided. `reference_scale` is required.
    """

    name: ClassVar[str] = "static"

    def __init__(self, *, k: float = 4.0):
        """`k`: multiples of reference_scale above which an error is anomalous."""
        if not k > 0:
            raise ValueError(f"k must be > 0, got {k}")
        self.k = k

    def _levels(self, series: _Series, reference_scale: float | None) -> FloatArray:
        if reference_scale is None:
            raise ValueError("the static threshold needs reference_scale (training error std)")
        size = series.errors.size - series.start
        return np.full(size, self.k * reference_scale, dtype=np.float64)


THRESHOLDS: dict[str, type[Threshold]] = {
    cls.name: cls for cls in (DynamicThreshold, StaticThreshold, RobustThreshold)
}


def make_threshold(settings: ThresholdSettings) -> Threshold:
    """The threshold `settings.method` names, built from the matching settings."""
    if settings.method == "dynamic":
        return DynamicThreshold(
            window=settings.window,
            refit_every=settings.refit_every,
            min_history=settings.min_history,
            z_min=settings.z_min,
            z_max=settings.z_max,
            z_step=settings.z_step,
            prune=settings.prune,
        )
    if settings.method == "robust":
        return RobustThreshold(
            window=settings.window,
            refit_every=settings.refit_every,
            min_history=settings.min_history,
            k=settings.k_robust,
        )
    if settings.method == "static":
        return StaticThreshold(k=settings.k_static)
    known = ", ".join(sorted(THRESHOLDS))
    raise ValueError(f"unknown threshold method {settings.method!r} (known: {known})")


def _validate(
    errors: npt.ArrayLike, steps: npt.ArrayLike, start: int, reference_scale: float | None
) -> _Series:
    values = np.asarray(errors, dtype=np.float64)
    grid = np.asarray(steps)
    if values.ndim != 1:
        raise ValueError(f"errors must be a 1-D array, got shape {values.shape}")
    if grid.ndim != 1:
        raise ValueError(f"steps must be a 1-D array, got shape {grid.shape}")
    if grid.size != values.size:
        raise ValueError(f"errors and steps differ in length ({values.size} vs {grid.size})")
    if grid.size and not np.issubdtype(grid.dtype, np.integer):
        raise ValueError(f"steps must be integers, got dtype {grid.dtype}")
    grid = grid.astype(np.int64)
    if isinstance(start, bool) or not isinstance(start, int | np.integer):
        raise ValueError(f"start must be an integer, got {start!r}")
    if not 0 <= start <= values.size:
        raise ValueError(f"start must be in 0..{values.size} (the length of errors), got {start}")
    if np.any(np.diff(grid) <= 0):
        bad = int(np.flatnonzero(np.diff(grid) <= 0)[0])
        raise ValueError(
            f"steps must be strictly increasing: steps[{bad}]={grid[bad]}, "
            f"steps[{bad + 1}]={grid[bad + 1]}"
        )
    if np.any(np.isinf(values)) or np.any(values < 0):
        bad = int(np.flatnonzero(np.isinf(values) | (values < 0))[0])
        raise ValueError(
            f"errors must be nonnegative and finite or NaN: errors[{bad}]={values[bad]}"
        )
    if reference_scale is not None and not (math.isfinite(reference_scale) and reference_scale > 0):
        raise ValueError(f"reference_scale must be finite and > 0, got {reference_scale}")
    finite_pos = np.flatnonzero(np.isfinite(values)).astype(np.int64)
    finite_steps = grid[finite_pos]
    linked = np.zeros(finite_pos.size, dtype=np.bool_)
    linked[1:] = np.diff(finite_steps) == 1
    return _Series(
        errors=values,
        steps=grid,
        start=int(start),
        finite_pos=finite_pos,
        finite_values=values[finite_pos],
        linked=linked,
    )
