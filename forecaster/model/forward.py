"""The trained network's forward pass in numpy: scoring needs no TensorFlow and no weight swaps.

A GRU/LSTM of this size (tens of units) costs TensorFlow ~55 µs of dispatch per time step and
milliseconds to swap a series' weights in; numpy does a step in a few µs straight from the
stored weight arrays. The equations are Keras 3's (GRU with reset_after, LSTM with the i, f,
c, o gate order, sigmoid recurrent activation), checked against the Keras model in tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.config.model import ModelSettings
from forecaster.model.scoring_plan import ScoringPlan, ScoringRun

# Runs scored together in one batch: enough to amortise numpy's per-call overhead in a backfill.
PREDICT_BATCH_RUNS = 64


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-d float32 arrays, each output element summed in one fixed order.

    BLAS results depend on a row's place in the matrix and on the matrix size (blocking), so
    the same run scored alone (a daemon cycle) or beside others (a backfill) could differ in
    the last bit; einsum's plain loops (no BLAS without `optimize`) do not.
    """
    return np.einsum("ij,jk->ik", a, b)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # The tanh form never overflows in float32 (1 / (1 + exp(-x)) does for x < -88).
    return np.float32(0.5) * (np.tanh(np.float32(0.5) * x) + np.float32(1.0))


# A recurrent layer's state after a step: h, and the LSTM's cell state c (None for a GRU).
LayerState = tuple[np.ndarray, np.ndarray | None]


@dataclass(frozen=True)
class RunState:
    """The state of a scoring run after input `last` (positions in the inputs scored), so a
    later call can go on from there instead of recomputing the run from its start."""

    start: int  # the run's first input
    last: int  # the last input the state has consumed
    layers: tuple[LayerState, ...]  # per recurrent layer, each of batch size 1


@dataclass(frozen=True)
class _Layer:
    kernel: np.ndarray  # (inputs, gates * units)
    recurrent: np.ndarray  # (units, gates * units)
    input_bias: np.ndarray  # (gates * units,)
    recurrent_bias: np.ndarray  # (gates * units,): GRU only (zeros for LSTM)


class RecurrentForward:
    """Outputs of the forecaster network (recurrent layers, skip, dense head) for given weights.

    `weights` is the Keras `get_weights()` list: per recurrent layer kernel, recurrent kernel
    and bias, then the dense kernel and bias.
    """

    def __init__(self, settings: ModelSettings, weights: list[np.ndarray]) -> None:
        self.cell = settings.cell
        self.units = settings.units
        expected = 3 * settings.layers + 2
        if len(weights) != expected:
            raise ValueError(f"expected {expected} weight arrays, got {len(weights)}")
        self.layers: list[_Layer] = []
        for i in range(settings.layers):
            kernel, recurrent, bias = (
                np.asarray(w, np.float32) for w in weights[3 * i : 3 * i + 3]
            )
            if self.cell == "gru":  # bias rows: input bias, recurrent bias (reset_after)
                input_bias, recurrent_bias = bias[0], bias[1]
            else:
                input_bias, recurrent_bias = bias, np.zeros_like(bias)
            self.layers.append(_Layer(kernel, recurrent, input_bias, recurrent_bias))
        dense_kernel = np.asarray(weights[-2], np.float32)
        self.head_hidden = np.ascontiguousarray(dense_kernel[: self.units])
        self.head_inputs = np.ascontiguousarray(dense_kernel[self.units :])
        self.head_bias = np.asarray(weights[-1], np.float32)

    @property
    def horizon(self) -> int:
        return len(self.head_bias)

    def hidden(self, x: np.ndarray, steps: int | None = None) -> np.ndarray:
        """Last recurrent layer's states (T, B, units) of sequences x (B, T, F), each from a
        zero state; only the first `steps` time steps are computed (the rest stay zero)."""
        return self.continued(x, steps)[0]

    def continued(
        self,
        x: np.ndarray,
        steps: int | None = None,
        initial: tuple[LayerState, ...] | None = None,
    ) -> tuple[np.ndarray, tuple[LayerState, ...]]:
        """`hidden` from the layer states `initial` (zero when None), and every layer's state
        after the last computed step."""
        width = x.shape[1]
        steps = width if steps is None else min(steps, width)
        hidden = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=np.float32)  # time-major
        finals: list[LayerState] = []
        for k, layer in enumerate(self.layers):
            hidden, final = self._layer(
                layer, hidden, steps, None if initial is None else initial[k]
            )
            finals.append(final)
        return hidden, tuple(finals)

    def head(self, hidden: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """Outputs (N, horizon) from N hidden states (N, units) and the inputs (N, F) at them
        (the inputs skip past the recurrent layers)."""
        return (
            _dot(hidden, self.head_hidden) + _dot(inputs.astype(np.float32), self.head_inputs)
        ) + self.head_bias

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Outputs (B, T, horizon) of sequences x (B, T, F), each from a zero state."""
        batch, width, features = x.shape
        hidden = self.hidden(x).reshape(width * batch, self.units)
        inputs = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(width * batch, features)
        return self.head(hidden, inputs).reshape(width, batch, -1).transpose(1, 0, 2)

    def _layer(
        self, layer: _Layer, sequence: np.ndarray, steps: int, initial: LayerState | None
    ) -> tuple[np.ndarray, LayerState]:
        width, batch, features = sequence.shape
        units = self.units
        projected = _dot(sequence.reshape(width * batch, features), layer.kernel)
        projected = (projected + layer.input_bias).reshape(width, batch, -1)
        hidden = np.zeros((width, batch, units), dtype=np.float32)
        zeros = np.zeros((batch, units), dtype=np.float32)
        h = zeros if initial is None else initial[0]
        if self.cell == "gru":
            for t in range(steps):
                inner = _dot(h, layer.recurrent)
                inner += layer.recurrent_bias
                x_t = projected[t]
                zr = _sigmoid(x_t[:, : 2 * units] + inner[:, : 2 * units])
                z, r = zr[:, :units], zr[:, units:]
                candidate = r * inner[:, 2 * units :]
                candidate += x_t[:, 2 * units :]
                np.tanh(candidate, out=candidate)
                h = z * h + (np.float32(1.0) - z) * candidate
                hidden[t] = h
            return hidden, (h, None)
        c = zeros if initial is None or initial[1] is None else initial[1]
        for t in range(steps):
            gates = _dot(h, layer.recurrent)
            gates += projected[t]
            ifo = _sigmoid(gates)
            i, f, o = ifo[:, :units], ifo[:, units : 2 * units], ifo[:, 3 * units :]
            c = f * c + i * np.tanh(gates[:, 2 * units : 3 * units])
            h = o * np.tanh(c)
            hidden[t] = h
        return hidden, (h, c)


def predict_plan(
    forward: RecurrentForward,
    inputs: np.ndarray,
    plan: ScoringPlan,
    *,
    resume: RunState | None = None,
    keep: bool = False,
) -> tuple[np.ndarray, RunState | None]:
    """The horizon outputs (targets, horizon) that `plan` assigns to each target.

    Each run's outputs are bit-identical whichever runs share its batch and however far it is
    computed (see `_dot`), so a daemon cycle and a backfill write the same rows. So is a run
    continued from a `resume` state: the run with that start, whose targets all come after
    the state's last input, goes on from it (a daemon cycle with one new point computes one
    step instead of the whole run). With `keep`, the state of the run that reads the last
    input is returned for the next call (None when no run reads it).
    """
    result = np.empty((len(plan.targets), forward.horizon), dtype=np.float32)
    inputs = inputs.astype(np.float32, copy=False)
    last = len(inputs) - 1
    alone = _runs_scored_alone(plan, last, resume, keep)
    kept: RunState | None = None
    for k in sorted(alone):
        finals = _score_alone(forward, inputs, plan, k, resume, result)
        run = plan.runs[k]
        if keep and run.stop == last + 1:
            kept = RunState(start=run.start, last=last, layers=finals)
    batched = [k for k in range(len(plan.runs)) if k not in alone]
    for first in range(0, len(batched), PREDICT_BATCH_RUNS):
        group = batched[first : first + PREDICT_BATCH_RUNS]
        _score_batch(forward, inputs, plan, group, result)
    return result, kept


def _runs_scored_alone(
    plan: ScoringPlan, last: int, resume: RunState | None, keep: bool
) -> set[int]:
    """The runs scored one at a time, because their layer states matter: the run that goes on
    from `resume`, and with `keep` any run that reads input `last` (its state is kept)."""
    return {
        k
        for k, run in enumerate(plan.runs)
        if (keep and run.stop == last + 1) or _resumes(run, k, plan, resume)
    }


def _score_alone(
    forward: RecurrentForward,
    inputs: np.ndarray,
    plan: ScoringPlan,
    k: int,
    resume: RunState | None,
    result: np.ndarray,
) -> tuple[LayerState, ...]:
    """Write run k's outputs into `result`, computed from `resume` when the run can go on from
    it, else from its start; every layer's state after the run's last input."""
    run, selected = plan.runs[k], plan.run_of_target == k
    offsets = plan.offset_of_target[selected]
    start, initial = run.start, None
    if _resumes(run, k, plan, resume):
        assert resume is not None
        start, initial = resume.last + 1, resume.layers
    x = inputs[None, start : run.stop]
    hidden, finals = forward.continued(x, initial=initial)
    rows = offsets - (start - run.start)  # output time within x; -1: the resumed state
    states = np.empty((len(offsets), forward.units), dtype=np.float32)
    inside = rows >= 0
    states[inside] = hidden[rows[inside], 0]
    if not inside.all():
        assert initial is not None
        states[~inside] = initial[-1][0][0]
    result[selected] = forward.head(states, inputs[run.start + offsets])
    return finals


def _score_batch(
    forward: RecurrentForward,
    inputs: np.ndarray,
    plan: ScoringPlan,
    group: list[int],
    result: np.ndarray,
) -> None:
    """Write the outputs of the runs `group` into `result`, the runs computed side by side."""
    row_of_run = np.full(len(plan.runs), -1)
    row_of_run[group] = np.arange(len(group))
    selected = row_of_run[plan.run_of_target] >= 0
    rows = row_of_run[plan.run_of_target[selected]]
    offsets = plan.offset_of_target[selected]
    steps = int(offsets.max()) + 1
    # Shorter runs are zero-padded: an output depends only on the inputs up to its own step.
    x = np.zeros((len(group), steps, inputs.shape[1]), dtype=np.float32)
    for row, k in enumerate(group):
        run = plan.runs[k]
        length = min(run.stop - run.start, steps)
        x[row, :length] = inputs[run.start : run.start + length]
    hidden = forward.hidden(x)
    result[selected] = forward.head(hidden[offsets, rows], x[rows, offsets])


def _resumes(run: ScoringRun, k: int, plan: ScoringPlan, resume: RunState | None) -> bool:
    """Whether `run` can go on from `resume`: same start, and every target of the run comes
    after the state's last input (earlier outputs are not in the state)."""
    if resume is None or run.start != resume.start or not run.start <= resume.last < run.stop:
        return False
    offsets = plan.offset_of_target[plan.run_of_target == k]
    return bool(len(offsets)) and int(offsets.min()) >= resume.last - run.start
