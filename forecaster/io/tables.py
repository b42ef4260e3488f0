"""A user's table read in place as a series source; identifiers checked against the schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import MetaData, Table, func, select
from sqlalchemy.exc import NoSuchTableError
from sqlalchemy.orm import Session
from sqlalchemy.types import Date, DateTime

from forecaster.config.source import TableSourceSettings
from forecaster.db.repo.observations import points_from_rows
from forecaster.db.time_range import TimeRange
from forecaster.errors import SourceError
from forecaster.series.times import ensure_utc_index


class TableSource:
    """A user's table with a time and a value column (and optionally a series column)."""

    def __init__(self, settings: TableSourceSettings) -> None:
        self.settings = settings

    @property
    def label(self) -> str:
        schema = self.settings.db_schema
        return f"{schema}.{self.settings.table}" if schema else self.settings.table

    def series_names(self, session: Session) -> list[str]:
        s = self.settings
        if s.series_column is not None and s.series_value is None:
            table = self._reflect(session)
            column = table.c[s.series_column]
            values = session.scalars(select(column).distinct().where(column.is_not(None)))
            return sorted(str(v) for v in values)
        return [self._single_name()]

    def read(self, session: Session, name: str, time_range: TimeRange = TimeRange()) -> pd.Series:
        s = self.settings
        table = self._reflect(session)
        time_col = table.c[s.time_column]
        value_col = table.c[s.value_column]
        statement = select(time_col, value_col).where(time_col.is_not(None))
        if s.series_column is not None:
            statement = statement.where(table.c[s.series_column] == self._series_key(table, name))
        elif name != self._single_name():
            raise SourceError(
                f"table {self.label!r} provides series {self._single_name()!r}, not {name!r}"
            )
        statement = self._sql_time_filter(statement, time_col, time_range, session)
        rows = session.execute(statement.order_by(time_col)).all()
        return self._to_points(rows, time_range).rename(name)

    def read_many(self, session: Session, ranges: Mapping[str, TimeRange]) -> dict[str, pd.Series]:
        return {name: self.read(session, name, r) for name, r in ranges.items()}

    def newest(self, session: Session, name: str) -> pd.Timestamp | None:
        return self._edge(session, name, newest=True)

    def newest_of(self, session: Session, names: Sequence[str]) -> dict[str, pd.Timestamp | None]:
        return {name: self.newest(session, name) for name in names}

    def oldest(self, session: Session, name: str) -> pd.Timestamp | None:
        return self._edge(session, name, newest=False)

    def _edge(self, session: Session, name: str, *, newest: bool) -> pd.Timestamp | None:
        s = self.settings
        table = self._reflect(session)
        time_col = table.c[s.time_column]
        if not isinstance(time_col.type, DateTime | Date):  # text: only parsing tells the order
            points = self.read(session, name)
            return points.index[-1 if newest else 0] if len(points) else None
        statement = select(func.max(time_col) if newest else func.min(time_col))
        if s.series_column is not None:
            statement = statement.where(table.c[s.series_column] == self._series_key(table, name))
        found = session.scalar(statement)
        if found is None:
            return None
        return self._to_points([(found, 0.0)], TimeRange()).index[0]

    def _single_name(self) -> str:
        s = self.settings
        return s.series_name or s.series_value or s.table

    def _series_key(self, table: Table, name: str) -> Any:
        """The series name converted to the series column's Python type (e.g. int ids)."""
        s = self.settings
        if s.series_value is not None:
            if name != self._single_name():
                raise SourceError(
                    f"table {self.label!r} provides series {self._single_name()!r}, not {name!r}"
                )
            name = s.series_value
        column = table.c[s.series_column]  # type: ignore[index]
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            return name
        try:
            return python_type(name)
        except (TypeError, ValueError):
            raise SourceError(
                f"series {name!r} is not a valid {python_type.__name__} for column "
                f"{s.series_column!r} of table {self.label!r}"
            ) from None

    def _reflect(self, session: Session) -> Table:
        """The user's table as the database describes it; every configured column must exist."""
        s = self.settings
        try:
            table = Table(
                s.table, MetaData(), schema=s.db_schema, autoload_with=session.connection()
            )
        except NoSuchTableError:
            raise SourceError(
                f"source table {self.label!r} does not exist in the database"
            ) from None
        wanted = {
            "time_column": s.time_column,
            "value_column": s.value_column,
            "series_column": s.series_column,
        }
        for key, column in wanted.items():
            if column is not None and column not in table.c:
                raise SourceError(
                    f"source {key} {column!r} is not a column of table {self.label!r} "
                    f"(columns: {', '.join(table.c.keys())})"
                )
        return table

    def _sql_time_filter(
        self, statement: Any, time_col: Any, time_range: TimeRange, session: Session
    ) -> Any:
        """Narrow the read in SQL for real timestamp columns; pandas applies the exact bounds."""
        if not isinstance(time_col.type, DateTime | Date):
            return statement  # text timestamps: compare after parsing
        if isinstance(time_col.type, DateTime) and time_col.type.timezone:
            convert = _to_aware_utc
        else:
            convert = partial(_to_naive_local, zone=self.settings.timezone)
        # SQLite compares timestamps as text: widen by a second so boundary points are not lost.
        slack = (
            timedelta(seconds=1) if session.get_bind().dialect.name == "sqlite" else timedelta(0)
        )
        if time_range.start is not None:
            statement = statement.where(time_col >= convert(time_range.start - slack))
        if time_range.end is not None:
            statement = statement.where(time_col <= convert(time_range.end + slack))
        return statement

    def _to_points(self, rows: Sequence[Any], time_range: TimeRange) -> pd.Series:
        if not rows:
            return points_from_rows([])
        times, values = zip(*rows, strict=True)
        parsed = pd.to_datetime(
            pd.Series(times, dtype=object), errors="coerce", utc=False, format="mixed"
        )
        if pd.api.types.is_object_dtype(parsed):  # mixed offsets
            parsed = pd.to_datetime(pd.Series(times, dtype=object), errors="coerce", utc=True)
        index = ensure_utc_index(pd.DatetimeIndex(parsed), self.settings.timezone)
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        points = pd.Series(numbers.to_numpy(dtype=float, na_value=np.nan), index=index.rename("ts"))
        points = points[points.index.notna()].sort_index(kind="stable")
        mask = np.ones(len(points), dtype=bool)
        if time_range.start is not None:
            start = pd.Timestamp(time_range.start)
            mask &= (
                (points.index > start) if time_range.start_exclusive else (points.index >= start)
            )
        if time_range.end is not None:
            mask &= points.index <= pd.Timestamp(time_range.end)
        return points[mask].rename("value")


def _to_aware_utc(ts: Any) -> Any:
    return pd.Timestamp(ts).tz_convert("UTC").to_pydatetime()


def _to_naive_local(ts: Any, zone: str) -> Any:
    """A UTC bound as the naive wall-clock time a column without time zone stores."""
    return pd.Timestamp(ts).tz_convert(zone).tz_localize(None).to_pydatetime()
