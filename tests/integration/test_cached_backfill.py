"""A backfill's chunks read their context from the chunk before: only new points, same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from forecaster.config.loading import load_config
from forecaster.db.time_range import TimeRange
from forecaster.detection.thresholds.dynamic import DynamicThreshold
from pipelines.context import open_context
from pipelines.detect.cache import SeriesMemory
from pipelines.detect.run import StepIO, cached_io, database_io, process_series
from pipelines.detect.source import DatabaseSource, StepSource
from pipelines.jobs.ingest import IngestRequest, ingest_file
from tests.helpers.pipelines import load_rows
from tests.helpers.series import clear_results, snapshot, write_config, write_series


def recording(io: StepIO, reads: list[tuple[TimeRange, int]]) -> StepIO:
    """`io` with every raw-point read that reaches the database recorded in `reads` (its
    time range and how many points it returned)."""

    def source(session: object) -> StepSource:
        outer = io.source(session)  # type: ignore[arg-type]
        inner = outer.inner if hasattr(outer, "inner") else outer
        assert isinstance(inner, DatabaseSource)
        read = inner.points

        def points(name: str, time_range: TimeRange) -> pd.Series:
            points = read(name, time_range)
            reads.append((time_range, len(points)))
            return points

        inner.points = points  # type: ignore[method-assign]
        return outer

    return StepIO(source=source, sink=io.sink, committed=io.committed)


def test_cached_chunks_read_only_new_points_and_write_the_rows_of_database_reads(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv")  # 1,300 points: 8 chunks of 150 after the warm-up
    results, reads = [], []
    for make_io in (database_io, cached_io):
        context = open_context(load_config(write_config(tmp_path, db_url)))
        try:
            if make_io is database_io:
                ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
            pipeline = context.settings.pipeline(None)
            seen: list[tuple[TimeRange, int]] = []
            io = recording(make_io(context, pipeline), seen)
            report = process_series(context, pipeline, "s", io=io)
        finally:
            context.close()
        assert report.ok and report.points_read == 1300, report
        results.append(snapshot(db_url))
        reads.append(seen)
        clear_results(db_url, tmp_path / "models")
    assert results[0] == results[1]
    assert len(results[1]["forecasts"]) > 1000 and results[1]["anomalies"]
    # Each scored chunk of the database run reads its context again (from a start before its
    # watermark); the cached run reads only the points after the watermark instead.
    uncached, cached = reads
    assert len(cached) == len(uncached) > 5
    assert not any(r.start_exclusive for r, _ in uncached)
    context_reads = [c for (u, _), (c, _) in zip(uncached, cached, strict=True) if u.start]
    assert len(context_reads) > 5 and all(r.start_exclusive for r in context_reads), cached
    assert sum(n for _, n in cached) < 0.7 * sum(n for _, n in uncached)


def test_a_remembered_step_reuses_the_threshold_fits_of_the_step_before(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon-like run, one new point per step: through the memory, a threshold level is
    fitted only when a refit boundary is crossed; read from the database, every step fits."""
    csv = tmp_path / "s.csv"
    write_series(csv)
    fits: list[int] = []
    fit = DynamicThreshold._level

    def counted(self: DynamicThreshold, *args: Any) -> float:
        fits.append(1)
        return fit(self, *args)

    monkeypatch.setattr(DynamicThreshold, "_level", counted)
    context = open_context(load_config(write_config(tmp_path, db_url)))
    try:
        pipeline = context.settings.pipeline(None)
        load_rows(context, csv, "s", slice(0, 1100))
        memory = SeriesMemory()
        assert process_series(context, pipeline, "s", io=cached_io(context, pipeline, memory)).ok
        counts = []
        for make_io, first in (
            (lambda: cached_io(context, pipeline, memory), 1100),
            (lambda: database_io(context, pipeline), 1105),
        ):
            fits.clear()
            for row in range(first, first + 5):
                load_rows(context, csv, "s", slice(row, row + 1))
                assert process_series(context, pipeline, "s", io=make_io()).points_scored == 1
            counts.append(len(fits))
    finally:
        context.close()
    remembered, read = counts
    refit_every = pipeline.detection.threshold.refit_every
    assert refit_every >= 5 and remembered <= 2  # at most one boundary crossed per side
    assert read >= 10  # both sides, every step
