"""The model store: <root>/<pipeline>/<series>/<version>/{weights.npz, model.keras, meta.json}.

No pickles. `weights.npz` holds the weight arrays the numpy scorer reads (a daemon restart reads
a thousand of them in about a second, where Keras takes ~40 ms per file); `model.keras` is the
same network for Keras users and for stores written before `weights.npz` existed.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from pydantic import ValidationError

from forecaster.config.model import ModelSettings
from forecaster.errors import ModelArtifactError, ModelNotFound
from forecaster.model.network import Network
from forecaster.model.predict import TrainedModel
from forecaster.model.scaling import Scaler

FORMAT_VERSION = 1
MODEL_FILE = "model.keras"
WEIGHTS_FILE = "weights.npz"
META_FILE = "meta.json"

# Supplies a compiled network for a model's settings (NetworkPool.for_settings).
NetworkFactory = Callable[[ModelSettings], Network]


@dataclass(frozen=True)
class StoredModel:
    """A model read back from the store, with where it lives."""

    model: TrainedModel
    version: int
    path: Path


def series_directory(root: Path, pipeline: str, series: str) -> Path:
    """Where a series' versions live; names are percent-quoted so any series name is a safe path
    (names that are empty or a path of their own, such as `..`, are refused)."""
    if series in {"", ".", ".."}:
        raise ModelArtifactError(f"series name {series!r} cannot name a model directory")
    return root / quote(pipeline, safe="") / quote(series, safe="")


def artifact_path(root: Path, directory: Path) -> str:
    """What `model_versions.artifact_path` records: the version's directory relative to the
    store's root (POSIX separators), so a store can move with its model_dir."""
    try:
        return directory.relative_to(root).as_posix()
    except ValueError:  # not under the root (a store given by absolute path): as it is
        return str(directory)


def artifact_directory(root: Path, recorded: str) -> Path:
    """The directory an `artifact_path` names: relative ones under `root`; absolute ones, as
    rows written before paths were relative hold them, as they are."""
    path = Path(recorded)
    return path if path.is_absolute() else root / path


def list_versions(root: Path, pipeline: str, series: str) -> list[int]:
    """Version numbers stored for a series, ascending (directories with a meta.json only)."""
    directory = series_directory(root, pipeline, series)
    if not directory.is_dir():
        return []
    return sorted(
        int(p.name) for p in directory.iterdir() if p.name.isdigit() and (p / META_FILE).exists()
    )


def save_model(
    root: Path,
    pipeline: str,
    series: str,
    version: int,
    model: TrainedModel,
    network: Network,
) -> Path:
    """Write a version atomically (temp directory, then rename); returns its directory."""
    directory = series_directory(root, pipeline, series)
    target = directory / str(version)
    if target.exists():
        raise ModelArtifactError(f"model version {target} already exists")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=directory))
    except OSError as exc:
        raise ModelArtifactError(
            f"cannot write model version {target}: {exc.strerror or exc} (check model_dir)"
        ) from None
    try:
        network.weights = model.weights
        network.save(staging / MODEL_FILE)
        np.savez(staging / WEIGHTS_FILE, *model.weights)  # arr_0, arr_1, … in order
        meta = _meta(pipeline, series, version, model)
        (staging / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelArtifactError(
            f"cannot write model version {target}: {exc.strerror or exc} (check model_dir)"
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load_model(
    root: Path, pipeline: str, series: str, network_for: NetworkFactory, version: int | None = None
) -> StoredModel:
    """Read a version (the latest when None), checking its metadata and weights.

    `network_for(settings)` supplies a compiled network of the stored architecture.
    ModelNotFound when nothing is stored; ModelArtifactError when it cannot be trained on.
    """
    versions = list_versions(root, pipeline, series)
    if version is None:
        if not versions:
            raise ModelNotFound(
                f"no trained model for series {series!r} in pipeline {pipeline!r} under {root}"
            )
        version = versions[-1]
    path = series_directory(root, pipeline, series) / str(version)
    return load_model_at(path, network_for, expect=(pipeline, series, version))


def load_model_at(
    path: Path, network_for: NetworkFactory, expect: tuple[str, str, int] | None = None
) -> StoredModel:
    """Read the version stored in directory `path`."""
    meta_path = path / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise ModelArtifactError(f"model metadata {meta_path} is missing") from None
    except (OSError, ValueError) as exc:
        raise ModelArtifactError(f"model metadata {meta_path} is unreadable: {exc}") from None
    try:
        model, identity = _model_from_meta(meta)
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        detail = str(exc).splitlines()[0]
        raise ModelArtifactError(f"model metadata {meta_path} is invalid: {detail}") from None
    if expect is not None and identity != expect:
        raise ModelArtifactError(f"model metadata {meta_path} describes {identity}, not {expect}")
    if (path / WEIGHTS_FILE).exists():
        weights = _read_weights(path / WEIGHTS_FILE, meta.get("weight_shapes"))
    else:  # a store written before weights.npz: Keras reads the network file
        weights = network_for(model.settings).load(path / MODEL_FILE)
    _require_finite(path, weights)
    return StoredModel(
        model=TrainedModel(**{**model.__dict__, "weights": weights}),
        version=identity[2],
        path=path,
    )


def _weight_key(index: int) -> str:
    return f"arr_{index}"  # numpy's name for the index-th array given to savez


def _read_weights(path: Path, shapes: Any) -> list[np.ndarray]:
    """The weight arrays of a weights.npz, in Keras `get_weights()` order, checked against the
    shapes the metadata records."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            weights = [archive[_weight_key(i)] for i in range(len(archive.files))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelArtifactError(f"cannot load model weights from {path}: {exc}") from None
    if shapes is not None and [list(w.shape) for w in weights] != shapes:
        raise ModelArtifactError(
            f"model weights {path} have shapes {[list(w.shape) for w in weights]}, "
            f"the metadata says {shapes}"
        )
    return weights


def _require_finite(path: Path, weights: list[np.ndarray]) -> None:
    """A weight that is NaN or infinite makes every prediction NaN: the artifact is corrupt."""
    for index, array in enumerate(weights):
        if not np.all(np.isfinite(array)):
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            raise ModelArtifactError(
                f"model weights in {path} are corrupt: weight array {index} has {bad} "
                "non-finite value(s) (NaN or infinite)"
            )


def _meta(pipeline: str, series: str, version: int, model: TrainedModel) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    return {
        "format_version": FORMAT_VERSION,
        "pipeline": pipeline,
        "series": series,
        "version": version,
        "settings": model.settings.model_dump(mode="json"),
        "frequency": model.frequency,
        "scaler": model.scaler.to_dict(),
        "band": np.asarray(model.band).tolist(),
        "trained_from": model.trained_from.isoformat(),
        "trained_to": model.trained_to.isoformat(),
        "seed": model.seed,
        "metrics": json_safe(model.metrics),
        "forecast": "persistence" if model.persistence else "network",
        "weight_shapes": [list(w.shape) for w in model.weights],
        "libraries": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
    }


def _model_from_meta(meta: dict[str, Any]) -> tuple[TrainedModel, tuple[str, str, int]]:
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"format_version {meta.get('format_version')!r} is not {FORMAT_VERSION} "
            "(written by another forecaster version: retrain)"
        )
    settings = ModelSettings.model_validate(meta["settings"])
    band = np.asarray(meta["band"], dtype=float)
    if band.shape != (settings.horizon, 2):
        raise ValueError(f"band has shape {band.shape}, expected ({settings.horizon}, 2)")
    model = TrainedModel(
        settings=settings,
        frequency=str(meta["frequency"]),
        scaler=Scaler.from_dict(meta["scaler"]),
        weights=[],
        band=band,
        trained_from=pd.Timestamp(meta["trained_from"]),
        trained_to=pd.Timestamp(meta["trained_to"]),
        seed=int(meta["seed"]),
        metrics=dict(meta.get("metrics", {})),
        persistence=meta.get("forecast") == "persistence",  # older models: the network
    )
    return model, (str(meta["pipeline"]), str(meta["series"]), int(meta["version"]))


def json_safe(value: Any) -> Any:
    """Metrics as strict JSON: NaN/inf become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
