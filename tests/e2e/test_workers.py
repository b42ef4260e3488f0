"""`forecaster backfill --workers 2` through the CLI: the same rows as one process, on SQLite
and PostgreSQL; a series another process holds the lease of is waited for, not shared, so
two backfills of one series at once train each cut-off's model once."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers.cli import FORECASTER, run_cli
from tests.helpers.databases import BACKENDS, PostgresServer, database
from tests.helpers.series import wait_for_forecasts
from tests.helpers.several import SERIES, prepared, rows_by_series, write_three


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_workers_write_the_rows_of_one_process(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    data = write_three(tmp_path)
    results = {}
    for label, extra in (("one", ()), ("two", ("--workers", "2"))):
        url = database(backend, request, tmp_path, label)
        work = prepared(tmp_path / label, url, data)
        finished = run_cli("backfill", *extra, cwd=work)
        for name in SERIES:
            assert name in finished.stdout
        results[label] = rows_by_series(url)
        assert not results[label]["leases"], "every lease is given back"
    again = run_cli("backfill", "--workers", "2", cwd=work)  # nothing left to do
    assert rows_by_series(url) == results["two"], again.stdout
    assert {name for name, *_ in results["one"]["watermarks"]} == set(SERIES)
    assert results["one"]["events"], "the spikes are found"
    assert results["two"] == results["one"]


def test_a_leased_series_waits_for_its_holder_then_reports_it_busy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    data = write_three(tmp_path)[:1]
    work = prepared(tmp_path / "busy", url, data)
    config = work / "config.yaml"
    config.write_text(config.read_text() + "executor:\n  lease_wait_seconds: 2\n")
    until = datetime.now(UTC) + timedelta(minutes=5)
    engine = create_engine(url)
    with engine.begin() as connection:  # a daemon replica is working on the series
        series_id = connection.execute(text("SELECT id FROM series")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO series_leases (pipeline, series_id, owner, lease_until) "
                "VALUES ('default', :id, 'replica host-1:42', :until)"
            ),
            {"id": series_id, "until": until.strftime("%Y-%m-%d %H:%M:%S.%f")},
        )
    engine.dispose()
    busy = run_cli("backfill", cwd=work, check=False)
    assert busy.returncode == 1
    assert "being processed by replica host-1:42" in busy.stdout + busy.stderr
    assert not rows_by_series(url)["watermarks"], "nothing written beside the holder"


def test_two_backfills_of_one_series_at_once_train_each_cut_off_once(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    data = write_three(tmp_path)[:1]
    one = pg_server.create_database("alone")
    run_cli("backfill", cwd=prepared(tmp_path / "alone", one, data))
    url = pg_server.create_database("twice")
    work = prepared(tmp_path / "twice", url, data)
    first = subprocess.Popen(
        [str(FORECASTER), "backfill"], cwd=work, stdout=subprocess.PIPE, text=True
    )
    wait_for_forecasts(url, 1, running=lambda: first.poll() is None)
    second = run_cli("backfill", cwd=work)  # waits for the first one's lease, then resumes
    first_output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, first_output
    assert "ok" in second.stdout
    rows = rows_by_series(url)
    assert rows == rows_by_series(one)
    assert len({trained_to for _, _, trained_to in rows["models"]}) == len(rows["models"])
