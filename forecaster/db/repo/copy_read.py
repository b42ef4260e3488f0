"""PostgreSQL reads of many fixed-width rows through `COPY (select) TO STDOUT` in binary,
parsed by numpy in one step instead of one Python object per value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from sqlalchemy.engine import Connection

# What a column holds, as PostgreSQL's binary COPY format writes it (big-endian).
ColumnKind = Literal["int4", "int8", "float8", "timestamptz"]
_BINARY_TYPES: dict[ColumnKind, str] = {
    "int4": ">i4",
    "int8": ">i8",
    "float8": ">f8",
    "timestamptz": ">i8",  # microseconds since 2000-01-01 00:00 UTC
}
# PGCOPY\n\377\r\n\0, then a 32-bit flags field and a 32-bit header-extension length.
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER_BYTES = len(_SIGNATURE) + 8
_TRAILER_BYTES = 2  # a 16-bit -1 field count ends the data
POSTGRES_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us").astype(np.int64)


def copy_columns(
    connection: Connection, statement: Any, kinds: Sequence[ColumnKind]
) -> list[np.ndarray] | None:
    """Run a select (SQLAlchemy Core) on PostgreSQL as a binary COPY and return one numpy
    array per column: int64 for integers, float64, datetime64[us] (UTC) for timestamptz.

    Returns None when a row holds a NULL (its fields then have no fixed width): the caller
    reads those few results the ordinary way. Rows keep the statement's order."""
    compiled = statement.compile(dialect=connection.dialect)
    bound = {}
    for name, value in compiled.construct_params().items():
        # Each parameter's type converts it as in an ordinary execute (UTC times checked).
        processor = compiled.binds[name].type.bind_processor(connection.dialect)
        bound[name] = processor(value) if processor is not None else value
    sql = f"COPY ({compiled.string}) TO STDOUT (FORMAT BINARY)"
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(sql, bound) as copy:  # type: ignore[union-attr]
        data = b"".join(bytes(block) for block in copy)
    return parse_binary_copy(data, kinds)


def parse_binary_copy(data: bytes, kinds: Sequence[ColumnKind]) -> list[np.ndarray] | None:
    """The columns of a binary COPY stream whose fields all have their type's fixed width;
    None when some field is NULL or the stream is not laid out so."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PostgreSQL binary COPY stream")
    fields = [("count", ">i2")]
    for k, kind in enumerate(kinds):
        fields += [(f"length{k}", ">i4"), (f"value{k}", _BINARY_TYPES[kind])]
    row = np.dtype(fields)
    body = memoryview(data)[_HEADER_BYTES : len(data) - _TRAILER_BYTES]
    if len(body) % row.itemsize:
        return None  # a NULL field (length -1, no bytes) shortens its row
    rows = np.frombuffer(body, dtype=row)
    widths = [_BINARY_TYPES[kind] for kind in kinds]
    if np.any(rows["count"] != len(kinds)):
        return None
    for k, width in enumerate(widths):
        if np.any(rows[f"length{k}"] != np.dtype(width).itemsize):
            return None
    return [_column(rows[f"value{k}"], kind) for k, kind in enumerate(kinds)]


def _column(values: np.ndarray, kind: ColumnKind) -> np.ndarray:
    """One parsed column in native byte order, times as datetime64[us] since 1970."""
    if kind == "timestamptz":
        return (values.astype(np.int64) + POSTGRES_EPOCH_US).astype("datetime64[us]")
    if kind == "float8":
        return values.astype(np.float64)
    return values.astype(np.int64)
