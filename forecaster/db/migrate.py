"""Alembic migrations run programmatically: upgrade, current revision, schema check."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine

from forecaster.errors import DatabaseError
from forecaster.messages import first_line, quoted


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


def known_revisions() -> list[str]:
    """Every revision shipped with this version of forecaster, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def is_known(revision: str | None) -> bool:
    """Whether a database at `revision` (None: empty) is one this forecaster can migrate."""
    return revision is None or revision in known_revisions()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` in one transaction; DatabaseError for a revision
    (asked for, or the database's own) that this forecaster does not know."""
    _migrate(engine, revision, command.upgrade)


def downgrade(engine: Engine, revision: str) -> None:
    """Revert migrations down to `revision` ("base" removes every table)."""
    _migrate(engine, revision, command.downgrade)


def _migrate(engine: Engine, revision: str, run: Callable[[Config, str], None]) -> None:
    _require_known(current_revision(engine))
    try:
        with engine.begin() as connection:
            run(alembic_config(connection), revision)
    except CommandError as exc:  # an unknown revision, a downgrade "up", …
        raise DatabaseError(
            f"cannot migrate to revision {quoted(revision)}: {first_line(str(exc))} (this "
            f"forecaster's revisions: {', '.join(known_revisions())}, or head and base)"
        ) from None


def _require_known(current: str | None) -> None:
    if not is_known(current):
        raise DatabaseError(
            f"the database is at revision {quoted(current)}, which this forecaster does not "
            f"know (its newest is {head_revision()}): it was migrated by a newer forecaster; "
            "upgrade forecaster, or downgrade the database with the version that migrated it"
        )


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
    _require_known(current)
    raise DatabaseError(
        f"the database schema is at revision {current} but this forecaster needs {head}: "
        "run `forecaster db upgrade`"
    )
