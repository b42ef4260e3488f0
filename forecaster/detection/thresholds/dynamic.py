"""Hundman et al.'s nonparametric dynamic threshold with pruning (KDD 2018)."""

from __future__ import annotations

import math
from typing import ClassVar, Literal, Self

import numpy as np
from pydantic import Field, model_validator

from forecaster.detection.arrays import BoolArray, FloatArray, IntArray
from forecaster.detection.thresholds.base import ErrorSeries
from forecaster.detection.thresholds.windowed import WindowedSettings, WindowedThreshold


class DynamicSettings(WindowedSettings):
    """`threshold: {method: dynamic}`: Hundman et al.'s threshold with pruning."""

    method: Literal["dynamic"] = "dynamic"
    z_min: float = Field(default=2.0, gt=0, description="Smallest z in ε = mean + z·std.")
    z_max: float = Field(
        default=10.0,
        gt=0,
        description="Largest z searched; ε = mean + z_max·std when no z scores above 0.",
    )
    z_step: float = Field(default=0.5, gt=0, description="Spacing of the z grid.")
    prune: float = Field(
        default=0.13,
        ge=0,
        lt=1,
        description="Hundman's p: an anomalous run whose peak is within this relative "
        "decrease of the next smaller one is pruned (0 disables pruning).",
    )

    @model_validator(mode="after")
    def _z_range(self) -> Self:
        if self.z_min > self.z_max:
            raise ValueError(f"z_min ({self.z_min}) is larger than z_max ({self.z_max})")
        return self


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
    settings_type = DynamicSettings

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
        # The errors above each ε, counted on the sorted errors (a z grid by window matrix cost
        # ~4x more): n_below = how many are <= ε; the sums below ε are prefix sums of the sorted
        # deviations from the mean (well conditioned); a run above ε starts at each error above
        # it except where it follows, linked, an error above it too (both above: their min is).
        ordered = np.sort(history)
        n_below = np.searchsorted(ordered, eps, side="right")  # >= 1: some errors <= the mean
        n_above = history.size - n_below
        deviation = ordered - mean
        sums = np.concatenate([[0.0], np.cumsum(deviation)])[n_below]
        squares = np.concatenate([[0.0], np.cumsum(deviation * deviation)])[n_below]
        shift_below = sums / n_below  # mean below ε, minus the mean
        mean_below = mean + shift_below
        std_below = np.sqrt(np.maximum(squares / n_below - shift_below * shift_below, 0.0))
        pair_min = np.sort(np.minimum(history[:-1], history[1:])[linked[1:]])
        joined = pair_min.size - np.searchsorted(pair_min, eps, side="right")
        n_runs = n_above - joined
        gain = (mean - mean_below) / mean + (std - std_below) / std
        score = np.where(n_above > 0, gain / np.maximum(n_runs**2 + n_above, 1), -np.inf)
        if not np.any(score > 0):
            return mean + self.z_max * std
        best = score.size - 1 - int(np.argmax(score[::-1]))  # largest z among ties
        return float(eps[best])

    def _confirm(
        self, series: ErrorSeries, threshold: FloatArray, anomalous: BoolArray
    ) -> BoolArray:
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

    def _survivors(self, series: ErrorSeries, ranks: IntArray, eps: float) -> BoolArray:
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
