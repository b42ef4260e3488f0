"""Training sequences cut exactly as the chunked scoring plan runs the network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.errors import SeriesTooShort
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
