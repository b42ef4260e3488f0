"""Per-process model runtime: compiled networks, the model store and a cache of loaded models."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.model import ModelSettings
from forecaster.db.repo.model_versions import (
    add_model_version,
    find_model_version,
    latest_model_version,
)
from forecaster.db.session import transaction
from forecaster.errors import ModelNotFound, SeriesUnusable
from forecaster.model import store
from forecaster.model.network import Network, NetworkPool, import_keras
from forecaster.model.predict import TrainedModel
from forecaster.model.remote import RemoteStore
from forecaster.model.train import WarmStart, series_seed, train_model
from forecaster.series.regular import RegularSeries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveModel:
    """A trained model with its store version and model_versions row id."""

    model: TrainedModel
    version: int
    version_id: int | None
    path: Path
    trained_now: bool = False
    reason: str = ""


class ModelRuntime:
    """Builds networks once per architecture and keeps loaded models keyed by version.

    Lives as long as the process (CLI command or daemon); TensorFlow loads on first use. With
    a `remote` store (`model_store`), versions are published there and fetched from it into
    `root` (which then caches them), so processes on other machines share them.
    """

    def __init__(
        self, root: Path, *, verbose: bool = False, remote: RemoteStore | None = None
    ) -> None:
        self.root = root
        self.verbose = verbose
        self.remote = remote
        self._pool = NetworkPool()
        # One model per series, the one last used: walk-forward scoring moves from a version to
        # the next and never back, so older versions need not stay in a long-running daemon.
        self._loaded: dict[tuple[str, str], store.StoredModel] = {}

    def network_for(self, settings: ModelSettings) -> Network:
        import_keras(self.verbose)
        return self._pool.for_settings(settings)

    def load_latest(self, pipeline: str, series: str) -> store.StoredModel:
        """The newest stored version (cached); ModelNotFound / ModelArtifactError."""
        versions = self._versions(pipeline, series)
        if not versions:
            raise ModelNotFound(f"no trained model for series {series!r} in pipeline {pipeline!r}")
        return self.load_version(pipeline, series, versions[-1])

    def _versions(self, pipeline: str, series: str) -> list[int]:
        """Versions in the local store and, when there is one, the shared one."""
        local = store.list_versions(self.root, pipeline, series)
        if self.remote is None:
            return local
        return sorted({*local, *self.remote.versions(pipeline, series)})

    def load_version(self, pipeline: str, series: str, version: int) -> store.StoredModel:
        """One stored version, read from disk once per process; ModelArtifactError."""
        cached = self._loaded.get((pipeline, series))
        if cached is None or cached.version != version:
            if self.remote is not None:  # read locally when model_dir holds it already
                self.remote.fetch(pipeline, series, version)
            cached = store.load_model(self.root, pipeline, series, self.network_for, version)
            self._loaded[(pipeline, series)] = cached
        return cached

    def retain(self, pipeline: str, series: Collection[str]) -> None:
        """Drop the loaded models of the pipeline's series other than `series`."""
        keep = set(series)
        for key in [k for k in self._loaded if k[0] == pipeline and k[1] not in keep]:
            del self._loaded[key]

    def train_and_store(
        self,
        sessions: sessionmaker[Session],
        *,
        pipeline: str,
        series: str,
        series_id: int,
        data: RegularSeries,
        settings: ModelSettings,
        reason: str,
        extra_metrics: dict[str, Any] | None = None,
        warm: WarmStart | None = None,
    ) -> ActiveModel:
        """Train on `data` (from `warm`'s weights when given), write the next version to the
        store and record it in SQL."""
        started = time.perf_counter()
        network = self.network_for(settings)
        model = train_model(
            data,
            settings,
            network,
            seed=series_seed(settings, pipeline, series),
            name=series,
            warm=warm,
        )
        _require_finite_weights(model, series)
        version, version_id, path = self._store_version(
            sessions, pipeline, series, series_id, model, network, started, extra_metrics or {}
        )
        stored = store.StoredModel(model=model, version=version, path=path)
        self._loaded[(pipeline, series)] = stored
        log.info("trained %s/%s version %d (%s)", pipeline, series, version, reason)
        return ActiveModel(
            model=model,
            version=version,
            version_id=version_id,
            path=path,
            trained_now=True,
            reason=reason,
        )

    def _store_version(
        self,
        sessions: sessionmaker[Session],
        pipeline: str,
        series: str,
        series_id: int,
        model: TrainedModel,
        network: Network,
        started: float,
        extra_metrics: dict[str, Any],
    ) -> tuple[int, int, Path]:
        """Write `model` as the series' next version to the store and its model_versions row
        (version, row id, path; train_seconds counts from `started` up to the row); a version
        another process recorded first is removed again."""
        with transaction(sessions) as session:
            latest = latest_model_version(session=session, pipeline=pipeline, series_id=series_id)
            on_disk = self._versions(pipeline, series)
            version = max([latest.version if latest else 0, *on_disk, 0]) + 1
            path = store.save_model(self.root, pipeline, series, version, model, network)
            try:
                row = add_model_version(
                    session=session,
                    pipeline=pipeline,
                    series_id=series_id,
                    version=version,
                    trained_from=model.trained_from.to_pydatetime(),
                    trained_to=model.trained_to.to_pydatetime(),
                    metrics={
                        **store.json_safe(model.metrics),
                        "train_seconds": round(time.perf_counter() - started, 3),
                        **extra_metrics,
                    },
                    artifact_path=store.artifact_path(self.root, path),
                )
            except IntegrityError:
                # Another process stored this version number first: ours is not recorded.
                shutil.rmtree(path, ignore_errors=True)
                raise
            if self.remote is not None:  # recorded (flushed): ours is the one to share
                self.remote.publish(pipeline, series, version, path)
            return version, row.id, path


def _require_finite_weights(model: TrainedModel, series: str) -> None:
    """A training that ends with NaN or infinite weights is the series' error (never stored)."""
    if not all(np.all(np.isfinite(w)) for w in model.weights):
        raise SeriesUnusable(
            f"series {series!r}: training gave non-finite weights (NaN or infinite); "
            "the values may be too large or too irregular to learn from"
        )


def version_id_of(session: Session, *, pipeline: str, series_id: int, version: int) -> int | None:
    """The model_versions id of a stored version, None if the row is missing."""
    row = find_model_version(
        session=session, pipeline=pipeline, series_id=series_id, version=version
    )
    return row.id if row else None
