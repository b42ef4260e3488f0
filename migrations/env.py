"""Alembic environment: metadata from forecaster.db.models, connection from caller or settings."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from forecaster.db.tables import Base
from forecaster.db.types import UTCDateTime

target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the UTC timestamp type as the plain column type it stores as."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    # Invoked by the plain `alembic` command: take the URL from forecaster's settings.
    from forecaster.config.loading import load_config
    from forecaster.db.session import make_engine

    engine = make_engine(load_config().database)
    with engine.begin() as own_connection:
        run_migrations(own_connection)


if context.is_offline_mode():
    raise SystemExit(
        "offline (SQL script) migrations are not supported; use `forecaster db upgrade`"
    )
run_online()
