"""Read a series through its pipeline's source and put it on its regular grid."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.orm import Session

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.time_range import TimeRange
from forecaster.errors import SeriesUnusable
from forecaster.io.sources import SeriesSource
from forecaster.series.grid import Grid
from forecaster.series.regular import RegularSeries, regularize


def read_regular(
    source: SeriesSource,
    session: Session,
    pipeline: PipelineSettings,
    name: str,
    *,
    grid: Grid | str | None,
    time_range: TimeRange = TimeRange(),
) -> RegularSeries:
    """The series' points in `time_range` on `grid` (the stored one; a frequency alone or
    None: the rest inferred); SeriesUnusable when there are none."""
    raw = source.read(session, name, time_range)
    return regular(raw, pipeline, name, grid=grid, time_range=time_range)


def regular(
    raw: pd.Series,
    pipeline: PipelineSettings,
    name: str,
    *,
    grid: Grid | str | None,
    time_range: TimeRange = TimeRange(),
) -> RegularSeries:
    """Raw points read from `time_range` on their regular grid; SeriesUnusable when none."""
    if raw.empty:
        raise SeriesUnusable(f"series {name!r} has no points in {describe(time_range)}")
    preprocess = pipeline.preprocess
    return regularize(raw.rename(name), grid, preprocess.max_gap_fill, preprocess.aggregate)


def describe(time_range: TimeRange) -> str:
    """A time range as users read it in messages."""
    if time_range.start is None and time_range.end is None:
        return "the source"
    start = pd.Timestamp(time_range.start).isoformat() if time_range.start else "the start"
    end = pd.Timestamp(time_range.end).isoformat() if time_range.end else "the end"
    return f"{start} .. {end}"
