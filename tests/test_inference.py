"""The numpy forward pass: each run's outputs do not depend on the batch it is scored in."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.config import ModelSettings
from forecaster.inference import RecurrentForward, predict_plan
from forecaster.windowing import ScoringPlan, ScoringRun


def random_weights(settings: ModelSettings, features: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    gates = 3 if settings.cell == "gru" else 4
    units = settings.units
    weights: list[np.ndarray] = []
    inputs = features
    for _ in range(settings.layers):
        bias_shape = (2, gates * units) if settings.cell == "gru" else (gates * units,)
        weights += [
            rng.normal(0, 0.5, (inputs, gates * units)),
            rng.normal(0, 0.3, (units, gates * units)),
            rng.normal(0, 0.1, bias_shape),
        ]
        inputs = units
    weights += [rng.normal(0, 0.3, (units + features, settings.horizon)), rng.normal(0, 0.1, 12)]
    return [w.astype(np.float32) for w in weights]


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_run_scores_alike_alone_or_in_any_batch(cell: str) -> None:
    settings = ModelSettings(cell=cell, units=32, horizon=12)
    features = 5
    forward = RecurrentForward(settings, random_weights(settings, features, seed=1))
    rng = np.random.default_rng(2)
    inputs = rng.normal(0, 1.5, (3000, features)).astype(np.float32)
    starts = np.sort(rng.choice(2800, size=150, replace=False))
    runs = [ScoringRun(start=int(s), stop=int(s) + int(rng.integers(2, 127))) for s in starts]

    def plan_of(chosen: list[ScoringRun]) -> ScoringPlan:
        # Every run predicts each of its positions (offsets 0..length-1).
        offsets = [np.arange(run.stop - run.start) for run in chosen]
        return ScoringPlan(
            runs=chosen,
            targets=np.concatenate(
                [run.start + 1 + o for run, o in zip(chosen, offsets, strict=True)]
            ),
            run_of_target=np.concatenate([np.full(len(o), k) for k, o in enumerate(offsets)]),
            offset_of_target=np.concatenate(offsets),
        )

    together = predict_plan(forward, inputs, plan_of(runs))  # batches of 64, 64 and 22 runs
    cut = np.cumsum([0] + [run.stop - run.start for run in runs])
    for k in [0, 5, 63, 64, 100, 149]:
        alone = predict_plan(forward, inputs, plan_of([runs[k]]))
        np.testing.assert_array_equal(alone, together[cut[k] : cut[k + 1]])
    # A run's first steps, computed on their own, are the same as inside the longer run.
    short = ScoringRun(start=runs[7].start, stop=runs[7].start + 1)
    np.testing.assert_array_equal(
        predict_plan(forward, inputs, plan_of([short])), together[cut[7] : cut[7] + 1]
    )
