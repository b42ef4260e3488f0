"""Scaling, input features, training sequences and the chunked scoring plan; pure numpy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from forecaster.errors import SeriesTooShort, SeriesUnusable
from forecaster.timeseries import RegularSeries

# IQR / 1.349 estimates the standard deviation of normal data.
_IQR_TO_SIGMA = 1.349
_RELATIVE_EPSILON = 1e-9


@dataclass(frozen=True)
class Scaler:
    """Robust scaling fitted on the training span: (x - center) / scale."""

    center: float
    scale: float

    @classmethod
    def fit(cls, values: np.ndarray, name: str = "series") -> Scaler:
        """Median and IQR-based scale; the standard deviation when the IQR is zero."""
        values = values[np.isfinite(values)]
        if len(values) == 0:
            raise SeriesUnusable(f"series {name!r} has no finite values to fit a scaler on")
        center = float(np.median(values))
        q75, q25 = np.percentile(values, [75, 25])
        scale = float(q75 - q25) / _IQR_TO_SIGMA
        tiny = _RELATIVE_EPSILON * max(1.0, abs(center))
        if scale <= tiny:
            scale = float(np.std(values))
        if scale <= tiny:
            raise SeriesUnusable(
                f"series {name!r} is constant ({center:g}) over its training span: "
                "there is nothing to learn"
            )
        return cls(center=center, scale=scale)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.center) / self.scale

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        return scaled * self.scale + self.center

    def to_dict(self) -> dict[str, float]:
        return {"center": self.center, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Scaler:
        return cls(center=float(data["center"]), scale=float(data["scale"]))


def calendar_features(index: pd.DatetimeIndex, kinds: Sequence[str]) -> np.ndarray:
    """Cyclic (sin, cos) encodings of hour of day and day of week, shape (n, 2 * len(kinds))."""
    columns: list[np.ndarray] = []
    for kind in kinds:
        if kind == "hour_of_day":
            fraction = (index.hour + index.minute / 60) / 24
        elif kind == "day_of_week":
            fraction = (index.day_of_week + index.hour / 24) / 7
        else:
            raise ValueError(f"unknown calendar feature {kind!r}")
        radians = 2 * np.pi * np.asarray(fraction, dtype=float)
        columns += [np.sin(radians), np.cos(radians)]
    if not columns:
        return np.zeros((len(index), 0))
    return np.stack(columns, axis=1)


# Steps per day (or per week for daily data) that `seasonality: auto` accepts as a season.
_AUTO_SEASON_RANGE = (2, 1440)
_WEEKLY_SEASONS = {"D": 7, "B": 5}


@lru_cache(maxsize=256)
def seasonal_period(seasonality: int | str, frequency: str) -> int | None:
    """The season length in steps for a `seasonality` setting and a series frequency."""
    if isinstance(seasonality, int):
        return seasonality
    if seasonality == "none":
        return None
    offset = pd.tseries.frequencies.to_offset(frequency)
    name = offset.rule_code if offset.n == 1 else None
    if name in _WEEKLY_SEASONS:
        return _WEEKLY_SEASONS[name]
    if not isinstance(offset, pd.offsets.Tick):  # calendar offsets (weeks, months): no season
        return None
    step = pd.Timedelta(offset)
    day = pd.Timedelta(days=1)
    if step >= day or day % step != pd.Timedelta(0):
        return None
    per_day = int(day // step)
    low, high = _AUTO_SEASON_RANGE
    return per_day if low <= per_day <= high else None


def seasonal_features(series: RegularSeries, scaled: np.ndarray, period: int | None) -> np.ndarray:
    """(n, 2): at position p, the scaled value one season before the next step (steps[p] + 1 -
    period) and 1, or (0, 0) where that point is not in `series` (or there is no season)."""
    n = len(series)
    features = np.zeros((n, 2))
    if period is None or n == 0:
        return features
    wanted = series.steps + 1 - period
    where = np.searchsorted(series.steps, wanted)
    found = (where < n) & (series.steps[np.minimum(where, n - 1)] == wanted)
    features[found, 0] = scaled[where[found]]
    features[found, 1] = 1.0
    return features


def model_inputs(
    series: RegularSeries, scaler: Scaler, calendar: Sequence[str], period: int | None
) -> np.ndarray:
    """The network's input matrix (n, 3 + calendar columns), float32: the scaled value, its
    seasonal lag and the lag's presence flag, then the calendar encodings."""
    scaled = scaler.transform(series.values)
    features = calendar_features(series.index, calendar)
    seasonal = seasonal_features(series, scaled, period)
    return np.concatenate([scaled[:, None], seasonal, features], axis=1).astype(np.float32)


def n_features(calendar: Sequence[str]) -> int:
    """Input width for a calendar configuration (the seasonal columns are always present)."""
    return 3 + 2 * len(calendar)


@dataclass(frozen=True)
class SequenceSet:
    """Training sequences: inputs (S, L, F), targets (S, L, H), per-step weights (S, L)."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def training_sequences(
    inputs: np.ndarray,
    targets: np.ndarray,
    segment_ids: np.ndarray,
    *,
    window: int,
    chunk: int,
    horizon: int,
    target_range: tuple[int, int],
    max_sequences: int,
) -> SequenceSet:
    """Sequences of length window + chunk - 1 whose outputs predict the next `horizon` targets
    as changes from the value at the output's own step.

    The output at step j of a sequence has seen j + 1 inputs from a zero state; only steps
    with at least `window` inputs and all `horizon` targets inside `target_range` and the same
    segment carry weight. This is exactly the situation the chunked scoring plan creates.
    """
    length = window + chunk - 1
    n = len(targets)
    lo, hi = target_range
    # A start is useful when its first weighted output (step window - 1) has valid targets.
    first_out = np.arange(n) + window - 1
    last_target = first_out + horizon
    candidates = np.flatnonzero(
        (last_target < min(n, hi))
        & (first_out + 1 >= lo)
        & (segment_ids[np.minimum(last_target, n - 1)] == segment_ids)
    )
    if len(candidates) == 0:
        return SequenceSet(
            x=np.zeros((0, length, inputs.shape[1]), np.float32),
            y=np.zeros((0, length, horizon), np.float32),
            weights=np.zeros((0, length), np.float32),
        )
    if len(candidates) > max_sequences:
        picks = np.linspace(0, len(candidates) - 1, max_sequences).round().astype(int)
        candidates = candidates[np.unique(picks)]
    steps = np.arange(length)
    positions = candidates[:, None] + steps[None, :]  # (S, L)
    target_pos = positions[:, :, None] + 1 + np.arange(horizon)[None, None, :]  # (S, L, H)
    in_bounds = target_pos[:, :, -1] < min(n, hi)
    clipped = np.minimum(target_pos, n - 1)
    same_segment = segment_ids[clipped[:, :, -1]] == segment_ids[candidates][:, None]
    weights = (
        (steps[None, :] >= window - 1) & in_bounds & same_segment & (target_pos[:, :, 0] >= lo)
    )
    x = inputs[np.minimum(positions, n - 1)]
    x[positions >= n] = 0.0
    # The network forecasts the change from the last input value: a persistence forecast is
    # its zero output, so random-walk-like series start from a strong baseline.
    last_value = targets[np.minimum(positions, n - 1)]
    y = (targets[clipped] - last_value[:, :, None]).astype(np.float32)
    y[~weights] = 0.0
    return SequenceSet(x=x.astype(np.float32), y=y, weights=weights.astype(np.float32))


@dataclass(frozen=True)
class ScoringRun:
    """One pass of the network from a zero state over inputs[start:stop].

    The output after input p (start <= p < stop) predicts position p + 1.
    """

    start: int
    stop: int


@dataclass(frozen=True)
class ScoringPlan:
    """The runs that predict a set of positions, and which run output predicts each one."""

    runs: list[ScoringRun]
    targets: np.ndarray  # positions that get a prediction
    run_of_target: np.ndarray  # index into runs
    offset_of_target: np.ndarray  # output step within the run

    @property
    def cell_steps(self) -> int:
        """Total recurrent steps the plan costs."""
        return sum(run.stop - run.start for run in self.runs)


def scoring_plan(
    steps: np.ndarray,
    segment_starts: np.ndarray,
    *,
    window: int,
    chunk: int,
    positions: np.ndarray,
) -> ScoringPlan:
    """Plan one-step predictions for `positions` (which may include len(steps): the next step).

    The network restarts every `chunk` grid steps (aligned to absolute step numbers, so the
    prediction for a point never depends on how much history was read or how points were
    batched), `window` steps before the chunk, or at the start of the point's segment. A
    point whose segment has fewer than `window` earlier points gets no prediction (warm-up).
    """
    n = len(steps)
    positions = np.asarray(positions, dtype=np.int64)
    next_step = steps[-1] + 1 if n else 0
    target_steps = np.where(positions < n, steps[np.minimum(positions, n - 1)], next_step)
    segment_start_pos = np.maximum.accumulate(np.where(segment_starts, np.arange(n), 0))
    # The virtual next position continues the last segment.
    seg_start = np.where(positions < n, segment_start_pos[np.minimum(positions, n - 1)], 0)
    if n:
        seg_start = np.where(positions < n, seg_start, segment_start_pos[-1])
    chunk_first_step = (target_steps // chunk) * chunk
    run_start = np.maximum(positions - (target_steps - chunk_first_step) - window, seg_start)
    valid = positions - run_start >= window
    targets = positions[valid]
    starts = run_start[valid]
    # Targets that share a run start share one pass of the network.
    runs: list[ScoringRun] = []
    run_of_target = np.empty(len(targets), dtype=np.int64)
    unique_starts, inverse = np.unique(starts, return_inverse=True)
    for k, start in enumerate(unique_starts):
        members = targets[inverse == k]
        runs.append(ScoringRun(start=int(start), stop=int(members.max())))
        run_of_target[inverse == k] = k
    offsets = targets - 1 - starts
    return ScoringPlan(
        runs=runs,
        targets=targets,
        run_of_target=run_of_target,
        offset_of_target=offsets,
    )


def require_trainable(series: RegularSeries, min_points: int, name: str) -> None:
    """Raise SeriesTooShort unless some segment is long enough to train on."""
    longest = series.longest_segment()
    if longest < min_points:
        detail = (
            f"{len(series)} regular points"
            if series.segment_starts.sum() <= 1
            else f"its longest run between long gaps has {longest} points"
        )
        raise SeriesTooShort(
            f"series {name!r} is too short to train on: {detail}, the model needs at least "
            f"{min_points} (window + chunk + horizon)"
        )
