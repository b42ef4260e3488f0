"""Alembic migrations build exactly the models' schema, both ways, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from forecaster.config.database import DatabaseSettings
from forecaster.db import migrate
from forecaster.db.session import make_engine
from forecaster.db.tables import ALL_TABLES, Base
from forecaster.errors import DatabaseError


def test_migrations_match_the_models(empty_db_url: str) -> None:
    engine = make_engine(DatabaseSettings(url=empty_db_url))
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(empty_db_url: str) -> None:
    engine = make_engine(DatabaseSettings(url=empty_db_url))
    try:
        migrate.upgrade(engine)
        migrate.upgrade(engine)  # a second upgrade is a no-op
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert not set(ALL_TABLES) & set(inspect(engine).get_table_names())
        migrate.upgrade(engine)
        assert set(ALL_TABLES) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_unmigrated_database_is_a_clear_error(empty_db_url: str) -> None:
    engine = make_engine(DatabaseSettings(url=empty_db_url))
    try:
        with pytest.raises(DatabaseError, match="run `forecaster db upgrade` first"):
            migrate.require_current_schema(engine)
    finally:
        engine.dispose()
