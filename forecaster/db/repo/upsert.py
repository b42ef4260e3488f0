"""Insert-or-update of many rows on a table's unique key at bulk speed, in the caller's
transaction: PostgreSQL COPYs them into a staging table and merges it with one statement;
SQLite runs one prepared statement over all of them on the driver's cursor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from forecaster.db.types import UTCDateTime

UPSERT_BATCH_ROWS = 5_000
# Columns written when a row is inserted and kept when an upsert finds it: when it was first
# written, not when it was last rewritten.
INSERT_ONLY = frozenset({"created_at", "detected_at"})

# A block of rows by column: each a list, array or DatetimeIndex, or one value for all rows.
Columns = dict[str, Any]


def upsert_rows(
    session: Session, table: Any, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> int:
    """Insert-or-update dict rows (sharing their columns) on the unique key `keys`; an
    existing row keeps its INSERT_ONLY columns, and of rows repeating a key the last wins.
    Returns how many rows were given."""
    if not rows:
        return 0
    return upsert_columns(session, table, keys, [columns_of(rows)])


def columns_of(rows: Sequence[dict[str, Any]]) -> Columns:
    """Dict rows sharing their keys as one block of columns."""
    return {name: [row[name] for row in rows] for name in rows[0]}


def upsert_columns(
    session: Session, table: Any, keys: tuple[str, ...], blocks: Sequence[Columns]
) -> int:
    """`upsert_rows` of rows given as blocks of columns (the blocks share their column names):
    each column a list, array or DatetimeIndex, or one value for every row of its block."""
    columns, n = _joined_columns(table, blocks)
    if n == 0:
        return 0
    dialect = session.get_bind().dialect
    unique = _last_of_each_key(columns, keys, n)
    # Raw driver writes skip the ORM's autoflush: rows they refer to must be written first.
    session.flush()
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if dialect.name == "postgresql":
            names = tuple(unique)
            _copy_merge(cursor, dialect, table, keys, names, driver_values(dialect, table, unique))
        elif dialect.name == "sqlite":
            sql, order = _sqlite_upsert_sql(table, keys, tuple(unique))
            ordered = {name: unique[name] for name in order}
            cursor.executemany(sql, driver_values(dialect, table, ordered))
        else:
            raise NotImplementedError(
                f"upserts are implemented for SQLite and PostgreSQL, not {dialect.name}"
            )
    finally:
        cursor.close()
    return n


# Columns ready to write: times as naive-UTC datetime64[us] arrays, every other column a list
# of Python values (integers and None stay what they are).
Joined = dict[str, Any]


def _joined_columns(table: Table, blocks: Sequence[Columns]) -> tuple[Joined, int]:
    """The blocks as one set of columns, scalars repeated over their block; and the row count.
    Built from lists and arrays directly: a pandas frame of objects cost more than the write."""
    parts: dict[str, list[Any]] = {}
    total = 0
    for block in blocks:
        lengths = {len(v) for v in block.values() if not _is_scalar(v)}
        if len(lengths) != 1:
            raise ValueError(f"columns of one block differ in length (or none is given): {lengths}")
        (n,) = lengths
        total += n
        for name, value in block.items():
            is_time = isinstance(table.c[name].type, UTCDateTime)
            parts.setdefault(name, []).append(_column_piece(name, value, n, is_time=is_time))
    joined: Joined = {}
    for name, pieces in parts.items():
        if isinstance(table.c[name].type, UTCDateTime):
            joined[name] = np.concatenate(pieces)
        else:
            joined[name] = [v for piece in pieces for v in piece]
    return joined, total


def _column_piece(name: str, value: Any, n: int, *, is_time: bool) -> Any:
    """One block's column: times as naive-UTC datetime64[us] (a scalar one, such as a row's
    created_at, converted once and repeated), anything else as a list of Python values."""
    if is_time:
        if _is_scalar(value):
            return np.full(n, _utc_times(name, [value])[0])
        return _utc_times(name, value)
    if _is_scalar(value):
        return [value] * n
    return value.tolist() if isinstance(value, np.ndarray) else list(value)


def _last_of_each_key(columns: Joined, keys: tuple[str, ...], n: int) -> Joined:
    """The rows without the earlier ones of a repeated key (the last one wins)."""
    key_columns = [_hashable(columns[k]) for k in keys]
    last = {key: i for i, key in enumerate(zip(*key_columns, strict=True))}
    if len(last) == n:
        return columns
    kept = np.array(sorted(last.values()))
    return {
        name: values[kept] if isinstance(values, np.ndarray) else [values[i] for i in kept]
        for name, values in columns.items()
    }


def _hashable(values: Any) -> list[Any]:
    return values.view("int64").tolist() if isinstance(values, np.ndarray) else values


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | datetime)


def _utc_times(name: str, values: Any) -> np.ndarray:
    """Aware times (a DatetimeIndex or datetimes; None is NULL) as naive UTC datetime64[us];
    naive ones refused, as UTCDateTime refuses them. A list is converted element by element:
    a claim writes many blocks of a few rows each, where pandas' fixed cost per call was most
    of a daemon cycle's write."""
    if isinstance(values, pd.DatetimeIndex):
        if values.tz is None:
            raise ValueError(f"naive datetime in {name}: timestamps must be timezone-aware")
        return values.tz_convert(None).to_numpy("datetime64[us]")
    converted = []
    for value in values:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime in {name}: timestamps must be timezone-aware")
        converted.append(None if value is None else value.astimezone(UTC).replace(tzinfo=None))
    return np.array(converted, dtype="datetime64[us]")


def driver_values(dialect: Dialect, table: Table, columns: Joined) -> list[tuple[Any, ...]]:
    """The rows as the driver takes them, in the columns' order: times as UTC text in the
    format SQLAlchemy stores on SQLite (PostgreSQL parses it with its offset), every other
    column through its type's bind processing (none for the plain types here)."""
    out = []
    for name, values in columns.items():
        if isinstance(table.c[name].type, UTCDateTime):
            out.append(_utc_text(values, offset=dialect.name == "postgresql"))
            continue
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        out.append(values if process is None else [process(v) for v in values])
    return list(zip(*out, strict=True))


def _utc_text(times: np.ndarray, *, offset: bool) -> list[str | None]:
    """Naive UTC times as 'YYYY-MM-DD HH:MM:SS.ffffff' (+ '+00:00' with `offset`), NaT as None."""
    text = np.char.replace(np.datetime_as_string(times, unit="us"), "T", " ")
    if offset:
        text = np.char.add(text, "+00:00")
    out: list[str | None] = text.tolist()
    for i in np.flatnonzero(np.isnat(times)):
        out[i] = None
    return out


def _updated(keys: tuple[str, ...], columns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c for c in columns if c not in keys and c not in INSERT_ONLY)


@lru_cache(maxsize=64)
def _sqlite_upsert_sql(
    table: Table, keys: tuple[str, ...], columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """INSERT .. ON CONFLICT DO UPDATE with positional (qmark) parameters, and the columns
    in the order the parameters take them (the table's)."""
    insert = sqlite.insert(table).values({c: bindparam(c) for c in columns})
    statement = insert.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: getattr(insert.excluded, c) for c in _updated(keys, columns)},
    )
    compiled = statement.compile(dialect=sqlite.dialect())
    order = tuple(compiled.positiontup or ())
    if sorted(order) != sorted(columns):  # each column bound once, nothing else
        raise AssertionError(f"unexpected parameters {order} for {columns}")
    return str(compiled), order


def _copy_merge(
    cursor: Any,
    dialect: Dialect,
    table: Table,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    values: list[tuple[Any, ...]],
) -> None:
    """COPY the rows into a session-private staging table, merge it into `table` with one
    INSERT .. SELECT .. ON CONFLICT DO UPDATE, and empty it again."""
    stage, create, copy, merge = _postgres_sql(dialect, table, keys, columns)
    cursor.execute(create)
    with cursor.copy(copy) as writer:
        for row in values:
            writer.write_row(row)
    cursor.execute(merge)
    cursor.execute(f"DELETE FROM {stage}")


@lru_cache(maxsize=64)
def _postgres_sql(
    dialect: Dialect, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]
) -> tuple[str, str, str, str]:
    """The staging table's name and the statements that create, fill and merge it."""
    quote = dialect.identifier_preparer.quote
    target = quote(table.name)
    # One staging table per target with all its columns (and none of its constraints), so
    # any column set COPYs into it; temporary, so private to the connection.
    stage = quote(f"stage_{table.name}")
    listed = ", ".join(quote(c) for c in columns)
    create = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
        f"AS SELECT * FROM {target} WITH NO DATA"
    )
    updated = _updated(keys, columns)
    action = (
        "DO UPDATE SET " + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in updated)
        if updated
        else "DO NOTHING"
    )
    merge = (
        f"INSERT INTO {target} ({listed}) SELECT {listed} FROM {stage} "
        f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) {action}"
    )
    return stage, create, f"COPY {stage} ({listed}) FROM STDIN", merge


def dialect_insert(session: Session) -> Any:
    """The INSERT construct of the session's dialect (with ON CONFLICT clauses)."""
    return insert_for(session.get_bind().dialect.name)


def insert_for(dialect: str) -> Any:
    """The INSERT construct of a dialect by name."""
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"upserts are implemented for SQLite and PostgreSQL, not {dialect}")
