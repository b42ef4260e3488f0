"""The `model_versions` table: trained models recorded beside the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.db.tables import (
    ModelVersion,
)


def latest_model_version(*, session: Session, pipeline: str, series_id: int) -> ModelVersion | None:
    """The newest model_versions row of a series in a pipeline, or None."""
    return session.scalar(
        select(ModelVersion)
        .where(ModelVersion.pipeline == pipeline, ModelVersion.series_id == series_id)
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )


def find_model_version(
    *, session: Session, pipeline: str, series_id: int, version: int
) -> ModelVersion | None:
    """One model_versions row by its version number, or None."""
    return session.scalar(
        select(ModelVersion).where(
            ModelVersion.pipeline == pipeline,
            ModelVersion.series_id == series_id,
            ModelVersion.version == version,
        )
    )


def add_model_version(
    *,
    session: Session,
    pipeline: str,
    series_id: int,
    version: int,
    trained_from: datetime,
    trained_to: datetime,
    metrics: dict[str, Any],
    artifact_path: str,
) -> ModelVersion:
    """Record a stored model; returns the row with its id."""
    row = ModelVersion(
        pipeline=pipeline,
        series_id=series_id,
        version=version,
        trained_from=trained_from,
        trained_to=trained_to,
        metrics=metrics,
        artifact_path=artifact_path,
    )
    session.add(row)
    session.flush()
    return row


def list_model_versions(*, session: Session, pipeline: str, series_id: int) -> list[ModelVersion]:
    """Every model_versions row of a series in a pipeline, oldest first."""
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.pipeline == pipeline, ModelVersion.series_id == series_id)
            .order_by(ModelVersion.version)
        )
    )


def list_model_versions_of(
    *, session: Session, pipeline: str, series_ids: Sequence[int]
) -> dict[int, list[ModelVersion]]:
    """`list_model_versions` of several series in one query per 500 series."""
    found: dict[int, list[ModelVersion]] = {i: [] for i in series_ids}
    ids = list(series_ids)
    for start in range(0, len(ids), 500):
        rows = session.scalars(
            select(ModelVersion)
            .where(
                ModelVersion.pipeline == pipeline,
                ModelVersion.series_id.in_(ids[start : start + 500]),
            )
            .order_by(ModelVersion.series_id, ModelVersion.version)
        )
        for version in rows:
            found[version.series_id].append(version)
    return found
