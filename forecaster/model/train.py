"""Train a forecaster on one regular series: scaling, sequences, fit, validation metrics, band."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from forecaster.config.model import ModelSettings
from forecaster.errors import SeriesTooShort
from forecaster.model.features import model_inputs, seasonal_period
from forecaster.model.network import FitResult, Network
from forecaster.model.predict import TrainedModel, horizon_outputs
from forecaster.model.scaling import Scaler, safe_std
from forecaster.model.sequences import SequenceSet, require_trainable, training_sequences
from forecaster.series.regular import RegularSeries


@dataclass(frozen=True)
class WarmStart:
    """Start a fit from these weights (of a model with the same settings) for `epochs`."""

    weights: list[np.ndarray]
    epochs: int


def series_seed(settings: ModelSettings, pipeline: str, series: str) -> int:
    """A stable per-series seed (crc32, never hash(), which changes between processes)."""
    return (zlib.crc32(f"{pipeline}/{series}".encode()) ^ settings.seed) & 0x7FFFFFFF


def train_model(
    series: RegularSeries,
    settings: ModelSettings,
    network: Network,
    *,
    seed: int,
    name: str,
    warm: WarmStart | None = None,
) -> TrainedModel:
    """Fit a model on all of `series` (the caller cuts it at the training end), from fresh
    weights of `seed`, or from `warm`'s weights for its epochs.

    The last `validation_fraction` of the span (by time) validates: early stopping, metrics
    and the forecast band come from it. Inputs and targets are clipped to the scaler's bounds
    (`clip_sigmas`). Raises SeriesTooShort / SeriesUnusable.
    """
    require_trainable(series, settings.min_train_points, name)
    scaler = Scaler.fit(series.values[series.observed], name, settings.clip_sigmas)
    period = seasonal_period(settings.seasonality, series.frequency)
    inputs = model_inputs(series, scaler, settings.calendar, period)
    # Clipped like the inputs: a spike in the training span cannot dominate the loss.
    targets = scaler.clipped(series.values)
    val_start = _validation_start(len(series), settings)
    train, validation = _split_sequences(series, settings, inputs, targets, val_start, name)
    network.reset(seed)  # also zeroes the optimizer, so a warm start depends on `warm` only
    schedule = settings
    if warm is not None:
        network.weights = warm.weights
        schedule = settings.model_copy(update={"epochs": warm.epochs})
    fit = network.fit(train, validation if len(validation) else None, settings=schedule, seed=seed)
    # A zero band until `_evaluate` derives it from this very model's residuals.
    model = TrainedModel(
        settings=settings,
        frequency=series.frequency,
        scaler=scaler,
        weights=network.weights,
        band=np.zeros((settings.horizon, 2)),
        trained_from=series.index[0],
        trained_to=series.index[-1],
        seed=seed,
    )
    evaluated_from = val_start if len(validation) else 0
    band, metrics = _evaluate(model, series, evaluated_from)
    if _worse_than_persistence(metrics, settings.persistence_fallback):
        network_mae = metrics["mae"]
        model = replace(model, persistence=True)
        # The last value learns nothing from the span: all of it measures its error (a short
        # validation span may miss the large changes, e.g. a daily pattern's switch).
        band, metrics = _evaluate(model, series, 0)
        metrics["network_mae"] = network_mae
    metrics.update(_fit_metrics(fit, series, train, validation), warm_start=warm is not None)
    metrics["forecast"] = "persistence" if model.persistence else "network"
    return replace(model, band=band, metrics=metrics)


def _worse_than_persistence(metrics: dict[str, Any], ratio: float | None) -> bool:
    """Whether the network's one-step MAE exceeds `ratio` times the last value's (NaN: no)."""
    mae, naive = metrics["mae"], metrics["naive_mae"]
    return ratio is not None and bool(mae > ratio * naive)


def _split_sequences(
    series: RegularSeries,
    settings: ModelSettings,
    inputs: np.ndarray,
    targets: np.ndarray,
    val_start: int,
    name: str,
) -> tuple[SequenceSet, SequenceSet]:
    """Training sequences with targets before `val_start`, validation sequences (at most a
    quarter as many) with targets from it on; SeriesTooShort when no training sequence fits."""
    common: dict[str, Any] = {
        "segment_ids": series.segment_ids,
        "window": settings.window,
        "chunk": settings.scoring_chunk,
        "horizon": settings.horizon,
    }
    train = training_sequences(
        inputs,
        targets,
        target_range=(0, val_start),
        max_sequences=settings.max_train_samples,
        **common,
    )
    validation = training_sequences(
        inputs,
        targets,
        target_range=(val_start, len(series)),
        max_sequences=max(1, settings.max_train_samples // 4),
        **common,
    )
    if len(train) == 0:
        raise SeriesTooShort(f"series {name!r}: no training sequence fits before validation")
    return train, validation


def _fit_metrics(
    fit: FitResult, series: RegularSeries, train: SequenceSet, validation: SequenceSet
) -> dict[str, Any]:
    """The metrics of the fit itself and of the data it saw (beside the validation metrics)."""
    return {
        "epochs": fit.epochs,
        "train_loss": fit.train_loss,
        "val_loss": fit.val_loss,
        "fit_seconds": round(fit.seconds, 3),
        "points": len(series),
        "observed_points": int(series.observed.sum()),
        "train_sequences": len(train),
        "validation_sequences": len(validation),
    }


def _validation_start(n: int, settings: ModelSettings) -> int:
    """First position of the validation span; n when the span would be too short to use."""
    size = round(n * settings.validation_fraction)
    if size < settings.horizon + 1:
        return n
    return n - size


def _evaluate(
    model: TrainedModel, series: RegularSeries, start: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Band quantiles per horizon step and one-step error metrics on positions >= start.

    Forecasts and values are both clipped to the scaler's clip range (as in training), so a
    spike in the validation span cannot inflate the RMSE that thresholds are scaled by."""
    s = model.settings
    positions = np.arange(start, len(series))
    outputs, targets, _ = horizon_outputs(model, series, positions)
    predicted = model.scaler.clip_original(model.scaler.inverse(outputs))  # (T, H)
    actual = model.scaler.clip_original(series.values)
    steps = np.arange(s.horizon)
    actual_pos = targets[:, None] + steps[None, :]
    valid = actual_pos < len(series)
    clipped = np.minimum(actual_pos, len(series) - 1)
    segment = series.segment_ids
    valid &= segment[clipped] == segment[targets][:, None]
    valid &= series.observed[clipped]
    residuals = np.where(valid, actual[clipped] - predicted, np.nan)
    alpha = (1 - s.band_coverage) / 2
    band = np.zeros((s.horizon, 2))
    for h in range(s.horizon):
        column = residuals[:, h][np.isfinite(residuals[:, h])]
        if len(column):
            band[h] = np.quantile(column, [alpha, 1 - alpha])
    one_step = residuals[:, 0]
    ok = np.isfinite(one_step)
    previous = actual[np.maximum(targets - 1, 0)]
    naive = np.abs(actual[targets] - previous)[ok & (targets > 0)]
    mae = float(np.mean(np.abs(one_step[ok]))) if ok.any() else float("nan")
    metrics: dict[str, Any] = {
        # The span the band and errors come from: the validation span, or all of the series.
        "band_from": "validation" if start > 0 else "training",
        "eval_points": int(ok.sum()),
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(one_step[ok] ** 2))) if ok.any() else float("nan"),
        "naive_mae": float(np.mean(naive)) if len(naive) else float("nan"),
        "series_std": safe_std(series.values[series.observed]),
    }
    return band, metrics
