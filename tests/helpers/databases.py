"""The test databases: a real SQLite file and a real PostgreSQL database per test, as fixtures
(loaded by tests/conftest.py as a plugin) and helpers for tests that make their own."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.database import DatabaseSettings
from forecaster.db import migrate
from forecaster.db.session import make_engine, make_session_factory
from forecaster.db.tables import Base
from tests.helpers.paths import STRICT

# The server every test run gets its own databases on.
PG_ADMIN_URL = os.environ.get(
    "FORECASTER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


class PostgresServer:
    """Creates throw-away databases on the real server and drops them at the end of the run."""

    def __init__(self, admin_url: str) -> None:
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.run_id = uuid.uuid4().hex[:8]
        self.created: list[str] = []

    def create_database(self, label: str) -> str:
        name = f"forecaster_test_{self.run_id}_{label}_{len(self.created)}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def database(backend: str, request: pytest.FixtureRequest, tmp_path: Path, label: str) -> str:
    """A new, empty (unmigrated) database on `backend`: a SQLite file in tmp_path or a database
    on the PostgreSQL server."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / label}.db"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database(label)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer(PG_ADMIN_URL)
        with server.admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # the server is missing or refuses us
        message = f"PostgreSQL at {PG_ADMIN_URL} is not usable: {exc}"
        if STRICT:
            pytest.fail(message + " (PostgreSQL tests are required in CI)", pytrace=False)
        pytest.skip(message)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def pg_migrated_url(pg_server: PostgresServer) -> str:
    """One migrated database shared by the run's PostgreSQL tests (emptied between tests)."""
    url = pg_server.create_database("main")
    engine = make_engine(DatabaseSettings(url=url))
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(DatabaseSettings(url=f"sqlite:///{path}"))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _empty_postgres(url: str) -> None:
    """Empty the service's tables and drop tables that earlier tests created for themselves."""
    engine = create_engine(url)
    ours = {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}
    with engine.begin() as connection:
        for name in set(inspect(connection).get_table_names()) - ours:
            connection.execute(text(f'DROP TABLE "{name}" CASCADE'))
        tables = ", ".join(f'"{name}"' for name in sorted(ours - {"alembic_version"}))
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "forecaster.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated_url")
    _empty_postgres(url)
    return url


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database("empty")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(DatabaseSettings(url=db_url))
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
