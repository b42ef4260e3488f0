"""The numpy forward pass: each run's outputs do not depend on the batch it is scored in."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.config.model import ModelSettings
from forecaster.model.forward import RecurrentForward, predict_plan
from forecaster.model.scoring_plan import ScoringPlan, ScoringRun


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

    together, _ = predict_plan(forward, inputs, plan_of(runs))  # batches of 64, 64 and 22 runs
    cut = np.cumsum([0] + [run.stop - run.start for run in runs])
    for k in [0, 5, 63, 64, 100, 149]:
        alone, _ = predict_plan(forward, inputs, plan_of([runs[k]]))
        np.testing.assert_array_equal(alone, together[cut[k] : cut[k + 1]])
    # A run's first steps, computed on their own, are the same as inside the longer run.
    short = ScoringRun(start=runs[7].start, stop=runs[7].start + 1)
    np.testing.assert_array_equal(
        predict_plan(forward, inputs, plan_of([short]))[0], together[cut[7] : cut[7] + 1]
    )


@pytest.mark.parametrize(("cell", "layers"), [("gru", 1), ("lstm", 2)])
def test_a_run_continued_from_a_kept_state_scores_as_from_its_start(cell: str, layers: int) -> None:
    settings = ModelSettings(cell=cell, layers=layers, units=16, horizon=12)
    features = 4
    forward = RecurrentForward(settings, random_weights(settings, features, seed=3))
    inputs = np.random.default_rng(5).normal(0, 1.5, (200, features)).astype(np.float32)

    def plan(stop: int, targets: list[int]) -> ScoringPlan:
        # One run from input 20 that predicts `targets` (outputs after inputs target - 1).
        chosen = np.array(targets)
        return ScoringPlan(
            runs=[ScoringRun(start=20, stop=stop)],
            targets=chosen,
            run_of_target=np.zeros(len(chosen), dtype=np.int64),
            offset_of_target=chosen - 1 - 20,
        )

    # A first call reads inputs up to 119 and keeps the state after it.
    first, kept = predict_plan(forward, inputs[:120], plan(120, [110, 120]), keep=True)
    assert kept is not None and (kept.start, kept.last) == (20, 119)
    # The next call has three more inputs: from the state, or from the run's start.
    targets = [120, 121, 123]
    resumed, again = predict_plan(forward, inputs[:123], plan(123, targets), resume=kept, keep=True)
    fresh, _ = predict_plan(forward, inputs[:123], plan(123, targets))
    np.testing.assert_array_equal(resumed, fresh)
    np.testing.assert_array_equal(resumed[0], first[1])  # the kept state's own output
    assert again is not None and again.last == 122
    # A target before the state's last input cannot come from it: computed from the start.
    early, _ = predict_plan(forward, inputs[:123], plan(123, [100, 123]), resume=kept)
    np.testing.assert_array_equal(
        early, predict_plan(forward, inputs[:123], plan(123, [100, 123]))[0]
    )
