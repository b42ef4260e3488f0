"""The Keras recurrent network: lazy TensorFlow import, compiled-network pool, fit, chunked predict.

Only this module imports TensorFlow/Keras, and only when a function here is first called.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from forecaster.config.model import ModelSettings
from forecaster.errors import ModelArtifactError
from forecaster.model.features import n_features
from forecaster.model.sequences import SequenceSet


@contextmanager
def _quiet_stderr(enabled: bool) -> Iterator[None]:
    """Silence file descriptor 2 (TensorFlow's C++ logs ignore TF_CPP_MIN_LOG_LEVEL at import)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras(verbose: bool = False) -> ModuleType:
    """Import TensorFlow and Keras once, deterministic ops on, start-up noise hidden."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _quiet_stderr(not verbose):
        import keras
        import tensorflow as tf

        tf.get_logger().setLevel("INFO" if verbose else "ERROR")
        # Same data, config and seed must train the same weights (daemon == backfill).
        tf.config.experimental.enable_op_determinism()
        tf.constant(0.0)  # the first op prints more start-up lines; let it happen here
    return keras


def architecture_key(settings: ModelSettings, n_features: int) -> tuple[Any, ...]:
    """Everything that changes the compiled graph; models sharing it can share a network."""
    return (
        settings.cell,
        settings.layers,
        settings.units,
        settings.dropout,
        settings.horizon,
        settings.loss,
        settings.learning_rate,
        n_features,
    )


@dataclass(frozen=True)
class FitResult:
    """What training did."""

    epochs: int
    train_loss: float
    val_loss: float | None
    seconds: float


class Network:
    """One compiled Keras model for an architecture; each series swaps its own weights in.

    Building and compiling a model per series costs ~1 s and grows memory; resetting
    weights and optimizer state on one compiled model costs milliseconds.
    """

    def __init__(self, settings: ModelSettings, n_features: int) -> None:
        keras = import_keras()
        import tensorflow as tf

        self.horizon = settings.horizon
        self.n_features = n_features
        self._loaded_list: list[np.ndarray] | None = None  # the weights list last set
        layer_type = keras.layers.GRU if settings.cell == "gru" else keras.layers.LSTM
        inputs = keras.Input(shape=(None, n_features), name="inputs")
        hidden = inputs
        for i in range(settings.layers):
            # tanh/sigmoid and no recurrent dropout keep the cuDNN-compatible kernel.
            hidden = layer_type(
                settings.units,
                return_sequences=True,
                dropout=settings.dropout,
                name=f"{settings.cell}_{i}",
            )(hidden)
        # The inputs skip past the recurrent layers: the head can weigh the current value
        # directly (targets are changes from it, see windowing.training_sequences).
        head_inputs = keras.layers.Concatenate(name="skip")([hidden, inputs])
        outputs = keras.layers.Dense(settings.horizon, name="forecast")(head_inputs)
        self.model = keras.Model(inputs, outputs, name="forecaster_rnn")
        losses = {
            "huber": keras.losses.Huber(),
            "mse": keras.losses.MeanSquaredError(),
            "mae": keras.losses.MeanAbsoluteError(),
        }
        self.model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=settings.learning_rate),
            loss=losses[settings.loss],
        )
        self.model.optimizer.build(self.model.trainable_variables)
        self._forward = tf.function(
            lambda x: self.model(x, training=False),
            input_signature=[tf.TensorSpec([None, None, n_features], tf.float32)],
        )

    @property
    def weights(self) -> list[np.ndarray]:
        return [np.array(w) for w in self.model.get_weights()]

    @weights.setter
    def weights(self, values: list[np.ndarray]) -> None:
        # Setting weights costs milliseconds; a model scored twice in a row (detection, then
        # its forecast) sets them once. The list of a loaded model is never mutated.
        if values is self._loaded_list:
            return
        self.model.set_weights(values)
        self._loaded_list = values

    def reset(self, seed: int) -> None:
        """Fresh initial weights from `seed`, a zeroed optimizer and reseeded randomness."""
        self._loaded_list = None
        keras = import_keras()
        keras.utils.set_random_seed(seed)
        initial = []
        for i, variable in enumerate(self.model.weights):
            initial.append(_initial_value(keras, variable.path, tuple(variable.shape), seed + i))
        self.model.set_weights(initial)
        for variable in self.model.optimizer.variables:
            if "learning_rate" not in variable.path:
                variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
        for variable in self.model.non_trainable_variables:
            if "seed_generator" in variable.path:
                variable.assign(np.array([seed, 0], dtype=variable.dtype))

    def fit(
        self,
        train: SequenceSet,
        validation: SequenceSet | None,
        *,
        settings: ModelSettings,
        seed: int,
    ) -> FitResult:
        """Train from the current weights, stopping early on the validation loss.

        `settings` supplies the training schedule (epochs, batch size, patience), which may
        differ between models sharing this network's architecture.
        """
        self._loaded_list = None  # training changes the weights in place
        keras = import_keras()
        s = settings
        validation_data = None
        if validation is not None and len(validation):
            validation_data = (validation.x, validation.y, validation.weights)
        monitor = "val_loss" if validation_data is not None else "loss"
        callbacks = [
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=s.patience, restore_best_weights=True
            )
        ]
        keras.utils.set_random_seed(seed)
        started = time.perf_counter()
        history = self.model.fit(
            train.x,
            train.y,
            sample_weight=train.weights,
            validation_data=validation_data,
            epochs=s.epochs,
            batch_size=s.batch_size,
            shuffle=True,
            callbacks=callbacks,
            verbose=0,
        ).history
        best = int(np.argmin(history[monitor]))
        return FitResult(
            epochs=len(history["loss"]),
            train_loss=float(history["loss"][best]),
            val_loss=float(history["val_loss"][best]) if "val_loss" in history else None,
            seconds=time.perf_counter() - started,
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs (B, T, horizon) of a batch of sequences (B, T, F), each from a zero state."""
        return np.asarray(self._forward(x.astype(np.float32, copy=False)))

    def predict_windows(self, windows: np.ndarray) -> np.ndarray:
        """Classic sliding-window prediction: last output of each (B, window, F) window."""
        return np.asarray(self.model.predict(windows, verbose=0, batch_size=1024))[:, -1, :]

    def save(self, path: Path) -> None:
        """Write the current weights and architecture as a native .keras file."""
        self.model.save(path)

    def load(self, path: Path) -> list[np.ndarray]:
        """Read weights from a .keras file into this network and return them."""
        self._loaded_list = None
        try:
            self.model.load_weights(path)
        except Exception as exc:  # corrupt zip, wrong shapes, missing file: all the same to users
            raise ModelArtifactError(f"cannot load model weights from {path}: {exc}") from None
        return self.weights


def _initial_value(keras: ModuleType, path: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Keras' default initial value for a weight, drawn from `seed`."""
    name = path.rsplit("/", 1)[-1]
    if name == "recurrent_kernel":
        return np.asarray(keras.initializers.Orthogonal(seed=seed)(shape))
    if name == "kernel":
        return np.asarray(keras.initializers.GlorotUniform(seed=seed)(shape))
    value = np.zeros(shape, dtype=np.float32)
    if name == "bias" and "lstm" in path:
        units = shape[0] // 4
        value[units : 2 * units] = 1.0  # unit_forget_bias, as Keras does
    return value


class NetworkPool:
    """Compiled networks by architecture, built on first use and kept for the process."""

    def __init__(self) -> None:
        self._networks: dict[tuple[Any, ...], Network] = {}

    def get(self, settings: ModelSettings, n_features: int) -> Network:
        key = architecture_key(settings, n_features)
        if key not in self._networks:
            self._networks[key] = Network(settings, n_features)
        return self._networks[key]

    def for_settings(self, settings: ModelSettings) -> Network:
        """The network for a model's settings (input width from its calendar features)."""
        return self.get(settings, n_features(settings.calendar))
