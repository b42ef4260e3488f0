"""The service's own observations table as a series source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from sqlalchemy.orm import Session

from forecaster.db.repo.observations import (
    count_observations,
    first_observations,
    newest_observations_of,
    observation_edge,
    read_observations,
    read_observations_of,
)
from forecaster.db.repo.series import get_series, series_ids, series_kinds
from forecaster.db.time_range import TimeRange


class ObservationsSource:
    """The service's own `observations` table, filled by `forecaster ingest`."""

    def series_names(self, session: Session) -> list[str]:
        return list(series_kinds(session=session))

    def read(self, session: Session, name: str, time_range: TimeRange = TimeRange()) -> pd.Series:
        series = get_series(session=session, name=name)
        points = read_observations(session=session, series_id=series.id, time_range=time_range)
        return points.rename(name)

    def read_many(self, session: Session, ranges: Mapping[str, TimeRange]) -> dict[str, pd.Series]:
        ids = series_ids(session=session, names=list(ranges))
        by_id = read_observations_of(
            session=session, ranges={ids[name]: ranges[name] for name in ranges if name in ids}
        )
        return {
            name: by_id[ids[name]].rename(name) if name in ids else self.read(session, name, r)
            for name, r in ranges.items()
        }

    def newest(self, session: Session, name: str) -> pd.Timestamp | None:
        series = get_series(session=session, name=name)
        return observation_edge(session=session, series_id=series.id, newest=True)

    def newest_of(self, session: Session, names: Sequence[str]) -> dict[str, pd.Timestamp | None]:
        newest = newest_observations_of(session=session, names=names)
        return {
            name: newest[name] if name in newest else self.newest(session, name) for name in names
        }

    def oldest(self, session: Session, name: str) -> pd.Timestamp | None:
        series = get_series(session=session, name=name)
        return observation_edge(session=session, series_id=series.id, newest=False)

    def count(self, session: Session, name: str, time_range: TimeRange = TimeRange()) -> int:
        series = get_series(session=session, name=name)
        return count_observations(session=session, series_id=series.id, time_range=time_range)

    def first(self, session: Session, name: str, count: int) -> pd.Series:
        series = get_series(session=session, name=name)
        return first_observations(session=session, series_id=series.id, count=count).rename(name)
