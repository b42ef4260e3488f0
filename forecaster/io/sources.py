"""Where series come from: the service's own observations table or a user's table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import pandas as pd
from sqlalchemy.orm import Session

from forecaster.config.source import TableSourceSettings
from forecaster.db.time_range import TimeRange
from forecaster.io.observations import ObservationsSource
from forecaster.io.tables import TableSource


class SeriesSource(Protocol):
    """Anything that can list its series and return one series' raw points for a time range."""

    def series_names(self, session: Session) -> list[str]:
        """Names of the series this source provides."""
        ...

    def read(self, session: Session, name: str, time_range: TimeRange = TimeRange()) -> pd.Series:
        """Raw points (UTC DatetimeIndex, float values, NaN where the value is NULL), sorted."""
        ...

    def read_many(self, session: Session, ranges: Mapping[str, TimeRange]) -> dict[str, pd.Series]:
        """`read` of several series, each in its own range (as few queries as the source can)."""
        ...

    def newest(self, session: Session, name: str) -> pd.Timestamp | None:
        """Time of the series' newest point (UTC), None when it has none."""
        ...

    def newest_of(self, session: Session, names: Sequence[str]) -> dict[str, pd.Timestamp | None]:
        """`newest` of several series (as few queries as the source can)."""
        ...

    def oldest(self, session: Session, name: str) -> pd.Timestamp | None:
        """Time of the series' oldest point (UTC), None when it has none."""
        ...

    def first(self, session: Session, name: str, count: int) -> pd.Series:
        """The series' first `count` points (as `read` returns them)."""
        ...

    def count(self, session: Session, name: str, time_range: TimeRange = TimeRange()) -> int:
        """How many points `read` returns for `time_range` (for progress bars)."""
        ...


def make_source(settings: TableSourceSettings | None) -> SeriesSource:
    """The source a pipeline's `source:` section describes (None: own observations)."""
    if settings is None:
        return ObservationsSource()
    return TableSource(settings)
