"""A user's table read in place as a series source; identifiers checked against the schema."""

from __future__ import annotations

import logging
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
from forecaster.config.validators import series_name_problem
from forecaster.db.repo.observations import points_from_rows, two_columns
from forecaster.db.time_range import TimeRange
from forecaster.errors import IngestError, SourceError
from forecaster.io.timestamps import EARLIEST, LATEST, TimeOptions, parse_times
from forecaster.messages import quoted
from forecaster.series.times import ensure_utc_index

log = logging.getLogger(__name__)


class TableSource:
    """A user's table with a time and a value column (and optionally a series column)."""

    def __init__(self, settings: TableSourceSettings) -> None:
        self.settings = settings
        # What was last reported of each series' unusable rows: a daemon reads a text-typed
        # table every cycle, and says it again only when it changes.
        self._reported: dict[str, str] = {}

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
        self._check_name(name)
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
        return self._to_points(rows, time_range, name).rename(name)

    def read_many(self, session: Session, ranges: Mapping[str, TimeRange]) -> dict[str, pd.Series]:
        return {name: self.read(session, name, r) for name, r in ranges.items()}

    def count(self, session: Session, name: str, time_range: TimeRange = TimeRange()) -> int:
        # Rows that `read` drops (unparseable times, out-of-range after conversion) must not
        # count, so this reads them: a user's table has no cheaper exact count.
        return len(self.read(session, name, time_range))

    def newest(self, session: Session, name: str) -> pd.Timestamp | None:
        return self._edge(session, name, newest=True)

    def newest_of(self, session: Session, names: Sequence[str]) -> dict[str, pd.Timestamp | None]:
        return {name: self.newest(session, name) for name in names}

    def oldest(self, session: Session, name: str) -> pd.Timestamp | None:
        return self._edge(session, name, newest=False)

    def first(self, session: Session, name: str, count: int) -> pd.Series:
        table = self._reflect(session)
        oldest, newest = self.oldest(session, name), self.newest(session, name)
        if isinstance(table.c[self.settings.time_column].type, DateTime | Date) and oldest:
            # Windows from the oldest point, growing eightfold, until one holds `count` points.
            span = pd.Timedelta(hours=1)
            while newest is not None and oldest + span < newest:
                points = self.read(session, name, TimeRange(end=(oldest + span).to_pydatetime()))
                if len(points) >= count:
                    return points.iloc[:count]
                span *= 8
        return self.read(session, name).iloc[:count]  # text times: only parsing tells the order

    def _edge(self, session: Session, name: str, *, newest: bool) -> pd.Timestamp | None:
        s = self.settings
        self._check_name(name)
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
        edge = self._to_points([(found, 0.0)], TimeRange(), name)
        return edge.index[0] if len(edge) else None

    def _check_name(self, name: str) -> None:
        """A series named by a value of the series column must be usable as a name: an
        unusable one is that series' error, and the table's other series go on."""
        problem = series_name_problem(name)
        if problem is not None:
            raise SourceError(
                f"table {self.label!r}, column {self.settings.series_column!r}: {problem}; "
                "rename it in the table, or leave it out with the pipeline's series.names or "
                "series.pattern"
            )

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

    def _to_points(self, rows: Sequence[Any], time_range: TimeRange, name: str) -> pd.Series:
        if not rows:
            return points_from_rows([])
        times, values = two_columns(rows)
        index = self._parse_times(pd.Series(times, dtype=object))
        raw_values = pd.Series(values, dtype=object)
        numbers = pd.to_numeric(raw_values, errors="coerce")
        self._report_unusable(name, pd.Series(times, dtype=object), index, raw_values, numbers)
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

    def _parse_times(self, times: pd.Series) -> pd.DatetimeIndex:
        """UTC times; NaT where a cell is not a time or lies outside what the service holds.
        Text cells are read with one format for every row of the read (as ingest reads a
        file): day-first and month-first dates are never mixed."""
        if not all(isinstance(t, str) for t in times if t is not None):
            parsed = pd.to_datetime(times, errors="coerce", utc=False, format="mixed")
            if pd.api.types.is_object_dtype(parsed):  # mixed offsets
                parsed = pd.to_datetime(times, errors="coerce", utc=True)
            index = ensure_utc_index(pd.DatetimeIndex(parsed), self.settings.timezone)
            return pd.DatetimeIndex(index.where((index >= EARLIEST) & (index <= LATEST)))
        s = self.settings
        options = TimeOptions(timezone=s.timezone, format=s.time_format, dayfirst=s.dayfirst)
        present = times.notna().to_numpy()
        try:
            read = parse_times(times, present, options, lambda i: f"table {self.label!r}")
        except IngestError as exc:
            reading = str(exc).split("; say which")[0].split(": --time-format")[0]
            raise SourceError(
                f"{reading}; set the source's dayfirst (true or false) or time_format"
            ) from None
        index = pd.DatetimeIndex(read.times.to_numpy())  # UTC-aware (naive only if all NaT)
        return index.tz_convert("UTC") if index.tz is not None else index.tz_localize("UTC")

    def _report_unusable(
        self,
        name: str,
        times: pd.Series,
        index: pd.DatetimeIndex,
        values: pd.Series,
        numbers: pd.Series,
    ) -> None:
        """Log, once per change, the rows a text-typed table holds that cannot be read: times
        that are not times (left out) and values that are not numbers (read as missing)."""
        bad_time = (index.isna() & times.notna().to_numpy()).nonzero()[0]
        bad_value = [
            i
            for i in (numbers.isna() & values.notna()).to_numpy().nonzero()[0]
            if not (isinstance(values.iloc[i], str) and not values.iloc[i].strip())  # empty: a gap
        ]
        parts = []
        if len(bad_time):
            parts.append(
                f"{len(bad_time)} row(s) whose {self.settings.time_column!r} is not a usable "
                f"time were left out (e.g. {quoted(times.iloc[bad_time[0]])})"
            )
        if len(bad_value):
            parts.append(
                f"{len(bad_value)} row(s) whose {self.settings.value_column!r} is not a number "
                f"were read as missing (e.g. {quoted(values.iloc[bad_value[0]])})"
            )
        note = "; ".join(parts)
        if note and self._reported.get(name) != note:
            log.warning("table %s, series %s: %s", self.label, quoted(name), note)
        self._reported[name] = note


def _to_aware_utc(ts: Any) -> Any:
    return pd.Timestamp(ts).tz_convert("UTC").to_pydatetime()


def _to_naive_local(ts: Any, zone: str) -> Any:
    """A UTC bound as the naive wall-clock time a column without time zone stores."""
    return pd.Timestamp(ts).tz_convert(zone).tz_localize(None).to_pydatetime()
