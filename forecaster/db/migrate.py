"""Alembic migrations run programmatically: upgrade, current revision, schema check."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from forecaster.errors import DatabaseError


def _migrations_dir() -> Path:
    """The installed migrations package (the repository's `migrations/` directory)."""
    spec = importlib.util.find_spec("forecaster_migrations")
    if spec is None or spec.origin is None:
        raise DatabaseError("the forecaster_migrations package is missing: reinstall forecaster")
    return Path(spec.origin).parent


MIGRATIONS_DIR = _migrations_dir()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations, optionally bound to a connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of forecaster."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the packaged migrations have no head revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` in one transaction."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Revert migrations down to `revision` ("base" removes every table)."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def require_current_schema(engine: Engine) -> None:
    """Raise a DatabaseError telling the user to upgrade when the schema is missing or old."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise DatabaseError(
            "the database has no forecaster tables yet: run `forecaster db upgrade` first"
        )
    raise DatabaseError(
        f"the database schema is at revision {current} but this forecaster needs {head}: "
        "run `forecaster db upgrade`"
    )
