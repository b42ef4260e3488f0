"""Which network runs predict which positions: chunks at absolute grid steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
