"""Engine and session factory built from typed database settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.database import DatabaseSettings
from forecaster.errors import ConfigError, DatabaseError
from forecaster.messages import first_line, quoted


def display_url(url: str) -> str:
    """The URL with any password masked, safe to print in messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def make_engine(settings: DatabaseSettings) -> Engine:
    """An engine for the configured database; SQLite gets WAL, a busy timeout and foreign keys."""
    try:
        url = make_url(settings.url)
    except ArgumentError:
        raise ConfigError(
            f"database.url: not a valid SQLAlchemy URL: {quoted(settings.url)} "
            "(e.g. sqlite:///forecaster.db or postgresql+psycopg://user@host:5432/db)"
        ) from None
    kwargs: dict[str, Any] = {"echo": settings.echo}
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": settings.sqlite_busy_timeout_s}
    else:
        kwargs["pool_pre_ping"] = True
    if url.drivername.partition("+")[2] == "psycopg":  # text only: an unknown dialect errs below
        # No server-side prepared statements: psycopg prepares a query after its fifth run,
        # and PostgreSQL's generic plan for the claim's last-events query (an IN list joined
        # to its own aggregate) took 1.3 s where the planned-each-time query takes 1 ms,
        # most of a 1,000-series daemon cycle. Planning our queries costs well under that.
        kwargs["connect_args"] = {"prepare_threshold": None}
    try:
        engine = create_engine(url, **kwargs)
    except NoSuchModuleError:
        raise ConfigError(
            f"database.url: unknown database {quoted(url.drivername)} in "
            f"{display_url(settings.url)} (use sqlite:///FILE or postgresql+psycopg://...)"
        ) from None
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"database.url: no driver installed for {quoted(url.drivername)} ({exc.name})"
        ) from None
    except (ArgumentError, TypeError, ValueError) as exc:  # e.g. a bad query parameter
        raise ConfigError(
            f"database.url: {display_url(settings.url)} cannot be used: {first_line(str(exc))}"
        ) from None
    if url.get_backend_name() == "sqlite":
        _configure_sqlite(engine, settings.sqlite_busy_timeout_s)
    return engine


def _configure_sqlite(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers (dashboards) work while a pipeline writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def check_connection(engine: Engine) -> None:
    """Raise a DatabaseError naming the database when it cannot be reached."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(
            f"cannot connect to database {display_url(str(engine.url))}: {reason}"
        ) from None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that do not expire objects on commit (pipelines read rows after committing)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
