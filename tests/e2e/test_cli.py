"""The real CLI, run as a subprocess: the foundation's 'done when' path and its error messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers.cli import heavy_modules_loaded, run_cli
from tests.helpers.databases import BACKENDS, PostgresServer
from tests.helpers.paths import REPO_ROOT


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "config.yaml", tmp_path / "config.yaml")
    return tmp_path


@pytest.fixture(params=BACKENDS)
def fresh_db_url(request: pytest.FixtureRequest, workdir: Path) -> str | None:
    """None: the config's own SQLite file; otherwise a new, empty PostgreSQL database."""
    if request.param == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database("cli")


def test_help_does_not_import_tensorflow_or_pandas() -> None:
    output, loaded = heavy_modules_loaded(
        ["--help"], {"tensorflow", "keras", "pandas", "matplotlib"}
    )
    assert "Usage" in output and "ingest" in output
    assert loaded == []


def test_upgrade_ingest_and_query(
    workdir: Path, fresh_db_url: str | None, shared_data: Path
) -> None:
    vix = shared_data / "stocks" / "vix-daily.csv"
    upgrade = run_cli("db", "upgrade", cwd=workdir, db_url=fresh_db_url)
    assert "upgraded empty database -> 0006" in upgrade.stdout
    assert (
        "already at revision 0006"
        in run_cli("db", "upgrade", cwd=workdir, db_url=fresh_db_url).stdout
    )
    assert "(up to date)" in run_cli("db", "current", cwd=workdir, db_url=fresh_db_url).stdout

    args = ("ingest", str(vix), "--series", "vix", "--kind", "stock", "--value-column", "CLOSE")
    first = run_cli(*args, cwd=workdir, db_url=fresh_db_url)
    assert "9235 inserted, 0 updated, 0 unchanged" in first.stdout
    again = run_cli(*args, cwd=workdir, db_url=fresh_db_url)
    assert "0 inserted, 0 updated, 9235 unchanged" in again.stdout

    url = fresh_db_url or f"sqlite:///{workdir / 'forecaster.db'}"
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM observations")).scalar() == 9235
        kind = connection.execute(text("SELECT kind FROM series WHERE name = 'vix'")).scalar()
        assert kind == "stock"
    engine.dispose()
    listing = run_cli("series", cwd=workdir, db_url=fresh_db_url)
    assert "vix" in listing.stdout and "9235" in listing.stdout


def test_config_error_is_one_line_without_traceback(workdir: Path) -> None:
    (workdir / "config.yaml").write_text("database:\n  url: sqlite:///x.db\n  pool: 5\n")
    result = run_cli("db", "upgrade", cwd=workdir, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: config.yaml: database.pool: unknown key"]


def test_config_option_and_missing_file(workdir: Path, tmp_path: Path) -> None:
    result = run_cli("series", "--config", str(tmp_path / "absent.yaml"), cwd=workdir, check=False)
    assert result.returncode == 1
    assert "config file not found" in result.stderr and "absent.yaml" in result.stderr


def test_ingest_before_upgrade_says_what_to_do(workdir: Path, shared_data: Path) -> None:
    vix = shared_data / "stocks" / "vix-daily.csv"
    result = run_cli("ingest", str(vix), "--series", "vix", cwd=workdir, check=False)
    assert result.returncode == 1
    assert "run `forecaster db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database(workdir: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    result = run_cli("db", "current", cwd=workdir, db_url=url, check=False)
    assert result.returncode == 1
    assert (
        "cannot connect to database postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_bad_file_and_bad_options(workdir: Path) -> None:
    run_cli("db", "upgrade", cwd=workdir)
    bad = workdir / "bad.csv"
    bad.write_text("timestamp,value\n2024-01-01,1\n2024-01-02,??\n")
    result = run_cli("ingest", str(bad), "--series", "s", cwd=workdir, check=False)
    assert result.returncode == 1
    assert "line 3: unparseable value '??'" in result.stderr
    skipped = run_cli("ingest", str(bad), "--series", "s", "--skip-bad-rows", cwd=workdir)
    assert "skipped 1 bad row(s)" in skipped.stdout and "1 inserted" in skipped.stdout
    wrong_kind = run_cli(
        "ingest", str(bad), "--series", "s", "--kind", "bond", cwd=workdir, check=False
    )
    assert wrong_kind.returncode == 1 and "--kind must be one of" in wrong_kind.stderr
