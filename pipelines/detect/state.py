"""What the database knows of a series when a detection step starts: watermark, models, events."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from forecaster.db.tables import AnomalyEvent, ModelVersion, Series
from forecaster.detection.events import OpenEvent
from forecaster.series.grid import Grid


@dataclass(frozen=True)
class WalkForwardVersion:
    """A stored walk-forward model: its version number, model_versions id and cut-off."""

    version: int
    version_id: int
    cutoff: int  # grid step of the last point it was trained on
    mae: float | None = None  # its one-step error on its validation span (the drift reference)
    rmse: float | None = None  # its validation RMSE (the detection's reference scale)


@dataclass(frozen=True)
class SeriesState:
    """A series as a pipeline left it: its row, watermark, walk-forward models, last event."""

    name: str
    series_id: int
    watermark: pd.Timestamp | None  # every point up to here has been processed
    stored_frequency: str | None  # the `series.frequency` column
    versions: tuple[WalkForwardVersion, ...]  # oldest first
    last_event: OpenEvent | None  # the latest stored event (its end_step is not known yet)
    grid_origin: pd.Timestamp | None = None  # the `series.grid_origin` column

    def grid(self, configured: str | None) -> Grid | None:
        """The series' fixed grid: the configured or stored frequency through the stored grid
        origin; None until the series was first processed (then it is inferred)."""
        origin = None if self.grid_origin is None else self.grid_origin.to_pydatetime()
        return Grid.stored(configured or self.stored_frequency, origin)

    @property
    def chain(self) -> list[int]:
        """Training cut-offs (grid steps) of the walk-forward models, ascending."""
        return sorted({v.cutoff for v in self.versions})


def series_state(
    name: str,
    row: Series,
    watermark: datetime | None,
    versions: Sequence[ModelVersion],
    last_event: AnomalyEvent | None,
) -> SeriesState:
    """A series' state from its rows: series, watermark, model versions, latest event."""
    return SeriesState(
        name=name,
        series_id=row.id,
        watermark=None if watermark is None else pd.Timestamp(watermark),
        stored_frequency=row.frequency,
        versions=walk_forward_versions(versions),
        last_event=None if last_event is None else _open_event(last_event),
        grid_origin=None if row.grid_origin is None else pd.Timestamp(row.grid_origin),
    )


def _open_event(row: AnomalyEvent) -> OpenEvent:
    return OpenEvent(
        start_ts=pd.Timestamp(row.start_ts),
        end_ts=pd.Timestamp(row.end_ts),
        end_step=None,
        peak_ts=pd.Timestamp(row.peak_ts),
        peak_score=row.peak_score,
        n_points=row.n_points,
        direction=row.direction,
    )


def walk_forward_versions(rows: Sequence[ModelVersion]) -> tuple[WalkForwardVersion, ...]:
    """The walk-forward models among model_versions rows (those with a cut-off), oldest first;
    a model trained on demand (`forecaster train`) has none and never scores detection."""
    return tuple(
        WalkForwardVersion(
            version=v.version,
            version_id=v.id,
            cutoff=int(v.metrics["cutoff_step"]),
            mae=finite_positive(v.metrics.get("mae")),
            rmse=finite_positive(v.metrics.get("rmse")),
        )
        for v in rows
        if isinstance(v.metrics, dict) and "cutoff_step" in v.metrics
    )


def finite_positive(value: object) -> float | None:
    """A model metric usable as a scale (a finite positive number), else None."""
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    return None
