"""The trained network's forward pass in numpy: scoring needs no TensorFlow and no weight swaps.

A GRU/LSTM of this size (tens of units) costs TensorFlow ~55 µs of dispatch per time step and
milliseconds to swap a series' weights in; numpy does a step in a few µs straight from the
stored weight arrays. The equations are Keras 3's (GRU with reset_after, LSTM with the i, f,
c, o gate order, sigmoid recurrent activation), checked against the Keras model in tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.config import ModelSettings
from forecaster.windowing import ScoringPlan

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
        width = x.shape[1]
        steps = width if steps is None else min(steps, width)
        hidden = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=np.float32)  # time-major
        for layer in self.layers:
            hidden = self._layer(layer, hidden, steps)
        return hidden

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

    def _layer(self, layer: _Layer, sequence: np.ndarray, steps: int) -> np.ndarray:
        width, batch, features = sequence.shape
        units = self.units
        projected = _dot(sequence.reshape(width * batch, features), layer.kernel)
        projected = (projected + layer.input_bias).reshape(width, batch, -1)
        hidden = np.zeros((width, batch, units), dtype=np.float32)
        h = np.zeros((batch, units), dtype=np.float32)
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
            return hidden
        c = np.zeros((batch, units), dtype=np.float32)
        for t in range(steps):
            gates = _dot(h, layer.recurrent)
            gates += projected[t]
            ifo = _sigmoid(gates)
            i, f, o = ifo[:, :units], ifo[:, units : 2 * units], ifo[:, 3 * units :]
            c = f * c + i * np.tanh(gates[:, 2 * units : 3 * units])
            h = o * np.tanh(c)
            hidden[t] = h
        return hidden


def predict_plan(forward: RecurrentForward, inputs: np.ndarray, plan: ScoringPlan) -> np.ndarray:
    """The horizon outputs (targets, horizon) that `plan` assigns to each target.

    Each run's outputs are bit-identical whichever runs share its batch and however far it is
    computed (see `_dot`), so a daemon cycle and a backfill write the same rows.
    """
    result = np.empty((len(plan.targets), forward.horizon), dtype=np.float32)
    inputs = inputs.astype(np.float32, copy=False)
    for first in range(0, len(plan.runs), PREDICT_BATCH_RUNS):
        batch = plan.runs[first : first + PREDICT_BATCH_RUNS]
        selected = (plan.run_of_target >= first) & (plan.run_of_target < first + len(batch))
        rows = plan.run_of_target[selected] - first
        offsets = plan.offset_of_target[selected]
        steps = int(offsets.max()) + 1
        x = np.zeros((len(batch), steps, inputs.shape[1]), dtype=np.float32)
        for row, run in enumerate(batch):
            length = min(run.stop - run.start, steps)
            x[row, :length] = inputs[run.start : run.start + length]
        hidden = forward.hidden(x)
        result[selected] = forward.head(hidden[offsets, rows], x[rows, offsets])
    return result
