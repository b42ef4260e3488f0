"""Load a points file into the observations table in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from forecaster.config.validators import series_name_problem
from forecaster.db.repo.observations import UpsertCounts, upsert_observations
from forecaster.db.repo.series import create_series, find_series
from forecaster.db.session import transaction
from forecaster.errors import IngestError
from forecaster.io.files import PointsFile, ReadOptions, read_points
from forecaster.series.frequency import infer_frequency
from pipelines.context import AppContext


@dataclass(frozen=True)
class IngestRequest:
    """What to load, into which series, and how to read it."""

    path: Path
    series: str
    kind: str | None = None
    unit: str | None = None
    frequency: str | None = None
    read: ReadOptions = field(default_factory=ReadOptions)


@dataclass(frozen=True)
class IngestReport:
    """What an ingest read and what it changed."""

    series: str
    created: bool
    kind: str
    frequency: str | None
    file: PointsFile
    counts: UpsertCounts
    kind_ignored: str | None = None


def ingest_file(
    context: AppContext,
    request: IngestRequest,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Parse the whole file first, then write every row or none (one transaction)."""
    if (problem := series_name_problem(request.series)) is not None:
        raise IngestError(problem)
    parsed = read_points(request.path, request.read)
    total = len(parsed.points)
    with transaction(context.sessions) as session:
        series = find_series(session=session, name=request.series)
        created = series is None
        kind_ignored = None
        if series is None:
            series = create_series(
                session=session,
                name=request.series,
                kind=request.kind or "sensor",
                unit=request.unit,
                frequency=request.frequency
                or infer_frequency(pd.DatetimeIndex(parsed.points.index)),
            )
        else:
            if request.kind is not None and request.kind != series.kind:
                kind_ignored = request.kind
            if request.unit is not None:
                series.unit = request.unit
            if request.frequency is not None:
                series.frequency = request.frequency
        counts = upsert_observations(
            session=session,
            series_id=series.id,
            points=parsed.points,
            on_batch=(lambda done: on_progress(done, total)) if on_progress else None,
        )
        return IngestReport(
            series=series.name,
            created=created,
            kind=series.kind,
            frequency=series.frequency,
            file=parsed,
            counts=counts,
            kind_ignored=kind_ignored,
        )
