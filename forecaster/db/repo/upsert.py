"""Insert-or-update statements on a table's unique key, built once per dialect."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

UPSERT_BATCH_ROWS = 5_000
# Columns written when a row is inserted and kept when an upsert finds it: when it was first
# written, not when it was last rewritten.
INSERT_ONLY = frozenset({"created_at", "detected_at"})


def upsert_rows(
    session: Session, table: Any, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> int:
    """Batched insert-or-update of dict rows on the unique key `keys` (the rows share their
    columns); an existing row keeps its INSERT_ONLY columns."""
    if not rows:
        return 0
    updated = tuple(c for c in rows[0] if c not in keys and c not in INSERT_ONLY)
    statement = upsert_statement(session.get_bind().dialect.name, table, keys, updated)
    for start in range(0, len(rows), UPSERT_BATCH_ROWS):
        session.execute(statement, list(rows[start : start + UPSERT_BATCH_ROWS]))
    return len(rows)


@lru_cache(maxsize=64)
def upsert_statement(
    dialect: str, table: Any, keys: tuple[str, ...], updated: tuple[str, ...]
) -> Any:
    """The insert-or-update statement of a table, built once: constructing `excluded` column
    proxies costs more than executing a small upsert (a daemon cycle runs thousands)."""
    insert = insert_for(dialect)(table)
    return insert.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: getattr(insert.excluded, c) for c in updated},
    )


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
