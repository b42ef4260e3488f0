"""What a detection step reads, and the database source that reads it in one transaction.

A step reads a series' state (watermark, models, last event), its raw points, the one-step
predictions stored for points scored earlier and, where one is kept, the network state after
the watermark. The daemon and backfill wrap this source in a caching one (detect/cache.py);
an in-memory source can stand in for both.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd
from sqlalchemy.orm import Session

from forecaster.db.repo.events import last_event
from forecaster.db.repo.forecasts import read_one_step_predictions
from forecaster.db.repo.model_versions import list_model_versions
from forecaster.db.repo.watermarks import series_with_watermarks
from forecaster.db.time_range import TimeRange
from forecaster.detection.memo import DetectionMemo
from forecaster.errors import SeriesNotFound
from forecaster.io.sources import SeriesSource
from forecaster.model.predict import NetworkState
from pipelines.detect.state import SeriesState, series_state


class StepSource(Protocol):
    """Everything a detection step reads."""

    def state(self, name: str) -> SeriesState:
        """The series as the pipeline left it (SeriesNotFound without a series row)."""
        ...

    def oldest(self, name: str) -> pd.Timestamp | None:
        """Time of the series' first raw point, None when it has none."""
        ...

    def newest(self, name: str) -> pd.Timestamp | None:
        """Time of the series' newest raw point, None when it has none."""
        ...

    def first_points(self, name: str, count: int) -> pd.Series:
        """The series' first `count` raw points (to infer its grid from)."""
        ...

    def points(self, name: str, time_range: TimeRange) -> pd.Series:
        """Raw points in `time_range` (UTC index, NaN where a value is missing), sorted."""
        ...

    def predictions(self, state: SeriesState, time_range: TimeRange) -> pd.Series:
        """One-step predictions stored for the series' scored points, by target time."""
        ...

    def network_state(self, state: SeriesState) -> tuple[int | None, NetworkState] | None:
        """The network state kept after the watermark's point and the model version it
        belongs to; None when none is kept (a scoring run then starts from its beginning)."""
        ...

    def detection_memo(self, state: SeriesState) -> DetectionMemo | None:
        """The detection state the series' last step carried (its threshold fits); None when
        none is kept (the decisions are then computed afresh, same bits)."""
        ...


class DatabaseSource:
    """A StepSource over one session: the pipeline's series source and the service's tables."""

    def __init__(self, session: Session, pipeline: str, series: SeriesSource) -> None:
        self.session = session
        self.pipeline = pipeline
        self.series = series

    def state(self, name: str) -> SeriesState:
        found = series_with_watermarks(session=self.session, pipeline=self.pipeline, names=[name])
        if name not in found:
            raise SeriesNotFound(f"series {name!r} has no row in the series table")
        row, mark = found[name]
        session, pipeline = self.session, self.pipeline
        versions = list_model_versions(session=session, pipeline=pipeline, series_id=row.id)
        event = last_event(session=session, pipeline=pipeline, series_id=row.id)
        return series_state(name, row, mark, versions, event)

    def oldest(self, name: str) -> pd.Timestamp | None:
        return self.series.oldest(self.session, name)

    def newest(self, name: str) -> pd.Timestamp | None:
        return self.series.newest(self.session, name)

    def first_points(self, name: str, count: int) -> pd.Series:
        return self.series.first(self.session, name, count)

    def points(self, name: str, time_range: TimeRange) -> pd.Series:
        return self.series.read(self.session, name, time_range)

    def predictions(self, state: SeriesState, time_range: TimeRange) -> pd.Series:
        return read_one_step_predictions(
            session=self.session,
            pipeline=self.pipeline,
            series_id=state.series_id,
            time_range=time_range,
        )

    def network_state(self, state: SeriesState) -> tuple[int | None, NetworkState] | None:
        return None  # the database keeps no network state: runs start from their beginning

    def detection_memo(self, state: SeriesState) -> DetectionMemo | None:
        return None  # nor a detection memo: decisions are computed afresh
