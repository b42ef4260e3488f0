"""The daemon's memory: valid only at the watermark it was taken at, and bounded to the series
a replica still processes."""

from __future__ import annotations

import pandas as pd

from pipelines.detect.cache import Recent, SeriesMemory

MARK = pd.Timestamp("2024-01-01 12:00", tz="UTC")


def recent(mark: pd.Timestamp = MARK) -> Recent:
    index = pd.date_range(mark - pd.Timedelta("2h"), mark, freq="h")
    points = pd.Series([1.0, 2.0, 3.0], index=index)
    return Recent(watermark=mark, raw=points, predictions=points)


def test_a_memory_is_recalled_only_at_its_watermark() -> None:
    memory = SeriesMemory()
    memory.remember("p", 1, recent())
    assert memory.recall("p", 1, MARK) is not None
    assert memory.recall("p", 1, MARK + pd.Timedelta("1h")) is None  # someone moved it
    assert memory.recall("q", 1, MARK) is None and memory.recall("p", 2, MARK) is None
    memory.forget("p", 1)
    assert memory.recall("p", 1, MARK) is None and len(memory) == 0


def test_retain_forgets_the_series_a_cycle_did_not_process() -> None:
    memory = SeriesMemory()
    for series_id in (1, 2, 3):
        memory.remember("p", series_id, recent())
    memory.remember("other", 1, recent())
    memory.retain("p", {2})
    assert len(memory) == 2
    assert memory.recall("p", 2, MARK) is not None and memory.recall("p", 1, MARK) is None
    assert memory.recall("other", 1, MARK) is not None  # other pipelines keep theirs
