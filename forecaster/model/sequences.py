"""Training sequences cut exactly as the chunked scoring plan runs the network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.errors import SeriesTooShort, SeriesUnusable
from forecaster.series.constant import differs_from_first, leading_run
from forecaster.series.regular import RegularSeries


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


# Fewest points that must differ from a training span's first value: less is a constant span.
MIN_VARIED_POINTS = 10
MIN_VARIED_SHARE = 0.01
# A series that starts with this many identical readings has a flat start: its models train on
# the points after it (a flat-lined sensor that starts moving is news, not training data).
MIN_FLAT_RUN = 20


def usable_counts(segment_ids: np.ndarray, min_run: int) -> np.ndarray:
    """For each position p: how many points of [0, p] lie in runs between long gaps of at
    least `min_run` points within [0, p] (shorter runs hold no training sequence)."""
    n = len(segment_ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, segment_ids[1:] != segment_ids[:-1]])
    lengths = np.diff(np.r_[starts, n])
    in_segment = np.arange(n) - np.repeat(starts, lengths) + 1
    complete = np.where(lengths >= min_run, lengths, 0)
    before = np.repeat(np.r_[0, np.cumsum(complete)[:-1]], lengths)
    return before + np.where(in_segment >= min_run, in_segment, 0)


def varied_counts(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """For each position p: the observed points of [0, p] that differ from the first value."""
    return np.cumsum(differs_from_first(values) & observed)


def varied_needed(observed: np.ndarray) -> np.ndarray:
    """How many of `observed` points must differ from the first for a span not to be constant."""
    floor = np.minimum(MIN_VARIED_POINTS, np.maximum(observed - 1, 1))
    return np.maximum(floor, MIN_VARIED_SHARE * observed)


def leading_flat_run(series: RegularSeries) -> int:
    """Points in the series' flat start (identical readings from its first point; 0 when
    fewer than MIN_FLAT_RUN)."""
    run = leading_run(series.values)
    return run if run >= MIN_FLAT_RUN else 0


def require_trainable(
    series: RegularSeries, min_points: int, name: str, *, min_run: int = 1
) -> None:
    """Raise SeriesTooShort unless the series holds `min_points` usable points (in runs of at
    least `min_run` points between long gaps), SeriesUnusable when it is (nearly) constant."""
    usable = int(usable_counts(series.segment_ids, min_run)[-1]) if len(series) else 0
    if usable < min_points:
        detail = f"{usable} usable points"
        if series.segment_starts.sum() > 1:
            detail += f" (in runs of at least {min_run} points between long gaps)"
        raise SeriesTooShort(
            f"series {name!r} is too short to train on yet: {detail}, the model needs at least "
            f"{min_points} (window + chunk + horizon)"
        )
    varied = int(varied_counts(series.values, series.observed)[-1])
    if varied < varied_needed(np.array([int(series.observed.sum())]))[0]:
        raise SeriesUnusable(
            f"series {name!r} is constant ({series.values[0]:g}) over its training span "
            f"({varied} of {len(series)} points differ): nothing to learn yet"
        )


def first_trainable(
    series: RegularSeries, earliest: int, *, min_points: int, min_run: int
) -> int | None:
    """The first observed position >= `earliest` whose span [0, position] passes
    `require_trainable`, or None: where a series' first model is trained (a span that is too
    short or constant moves the first cut-off to a later point instead of failing it forever).
    The same tests, computed for every prefix at once (each count only grows with it)."""
    usable = usable_counts(series.segment_ids, min_run)
    varied = varied_counts(series.values, series.observed)
    observed_so_far = np.cumsum(series.observed)
    enough = (usable >= min_points) & (varied >= varied_needed(observed_so_far))
    enough &= series.observed
    enough[: max(earliest, 0)] = False
    found = np.flatnonzero(enough)
    return int(found[0]) if len(found) else None
