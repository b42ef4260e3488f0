"""User mistakes against real databases: unusable series names and unreadable rows in a user's
table, a corrupt model artifact, unknown schema revisions, and `status` showing each series'
latest outcome whatever ran after it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Column, MetaData, Table, Text, create_engine, text

import pipelines.executors.task as series_task
from forecaster.config.database import DatabaseSettings
from forecaster.config.loading import load_config
from forecaster.db import migrate
from forecaster.db.session import make_engine
from forecaster.errors import ConfigError, DatabaseError, ModelArtifactError, SeriesUnusable
from forecaster.model import store
from pipelines.context import AppContext, open_context
from pipelines.daemon.cycles import Cycles
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from pipelines.jobs.status import pipeline_status
from tests.helpers.databases import database
from tests.helpers.series import write_config, write_series

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def ticking(start: datetime = T0) -> Iterator[datetime]:
    """A clock that moves a minute each time it is read (runs and rows get distinct times)."""
    now = start
    while True:
        yield now
        now += timedelta(minutes=1)


def migrated(url: str, directory: Path, **pipeline: Any) -> AppContext:
    directory.mkdir(exist_ok=True)
    context = open_context(
        load_config(write_config(directory, url, **pipeline), env={}), require_schema=False
    )
    migrate.upgrade(context.engine)
    times = ticking()
    context.clock = lambda: next(times)
    return context


# --- a user's text-typed table ---------------------------------------------------------


def readings_table(url: str) -> None:
    """A long table of text cells, as exported by hand: one good sensor with a few unreadable
    rows, and sensors whose names cannot name a series."""
    engine = create_engine(url)
    table = Table(
        "readings",
        MetaData(),
        Column("sensor", Text),
        Column("ts", Text),
        Column("reading", Text),
    )
    table.metadata.create_all(engine)
    times = pd.date_range("2024-01-01", periods=30, freq="h")
    rows = [{"sensor": "good", "ts": t.isoformat(), "reading": str(k)} for k, t in enumerate(times)]
    rows += [
        {"sensor": "good", "ts": "not a time", "reading": "1"},
        {"sensor": "good", "ts": "yesterday", "reading": "2"},
        {"sensor": "good", "ts": "2024-02-01T00:00:00", "reading": "broken"},
        {"sensor": "good", "ts": "2024-02-01T01:00:00", "reading": ""},  # empty: a gap
    ]
    rows += [
        {"sensor": name, "ts": t.isoformat(), "reading": "1"}
        for name in ("", ".", "a\nb")
        for t in times[:3]
    ]
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    engine.dispose()


def test_a_tables_unusable_names_fail_alone_and_unreadable_rows_are_reported(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    readings_table(db_url)
    source = {"table": "readings", "time_column": "ts", "value_column": "reading"}
    context = migrated(db_url, tmp_path, source={**source, "series_column": "sensor"})
    try:
        with caplog.at_level(logging.WARNING, logger="forecaster.io.tables"):
            result = run_pipeline(context, None, kind="backfill")
            with context.sessions() as session:  # read again: said once, not every read
                context.source().read(session, "good")
        cycle = Cycles(context).detect("default", T0)  # the daemon too: each fails alone
        [pipeline] = pipeline_status(context)
    finally:
        context.close()
    reports = {r.series: r for r in result.reports}
    assert set(reports) == {"good", "", ".", "a\nb"}
    assert reports["good"].ok
    assert "cannot be empty" in (reports[""].error or "")
    assert "is not allowed (it names a directory)" in (reports["."].error or "")
    assert "line break" in (reports["a\nb"].error or "")
    assert all("rename it in the table" in (r.error or "") for r in result.failed)
    notes = [r.getMessage() for r in caplog.records if "series 'good'" in r.getMessage()]
    assert notes == [
        "table readings, series 'good': 2 row(s) whose 'ts' is not a usable time were left out "
        "(e.g. 'not a time'); 1 row(s) whose 'reading' is not a number were read as missing "
        "(e.g. 'broken')"
    ]
    assert cycle.series == 4 and set(cycle.errors) == {"", ".", "a\nb"}
    errors = {s.series: s.error for s in pipeline.series}
    assert errors["good"] is None and "cannot be empty" in (errors[""] or "")


# --- status: each series' latest outcome -----------------------------------------------


def test_status_keeps_a_failing_series_error_until_it_is_processed_again(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("good", "flaky"):
        write_series(tmp_path / f"{name}.csv", n=260)
    context = migrated(db_url, tmp_path / "run")
    process = series_task.process_series

    def offline(context: AppContext, pipeline: Any, name: str, *args: Any, **kw: Any) -> Any:
        if name == "flaky":
            raise SeriesUnusable("series 'flaky': the sensor was offline")
        return process(context, pipeline, name, *args, **kw)

    def errors() -> dict[str, str | None]:
        [pipeline] = pipeline_status(context)
        return {s.series: s.error for s in pipeline.series}

    try:
        for name in ("good", "flaky"):
            ingest_file(context, IngestRequest(path=tmp_path / f"{name}.csv", series=name))
        monkeypatch.setattr(series_task, "process_series", offline)
        assert [r.series for r in run_pipeline(context, None, kind="backfill").failed] == ["flaky"]
        monkeypatch.setattr(series_task, "process_series", process)
        # A later run of another series says nothing about flaky: its error stays.
        assert not run_pipeline(context, None, kind="backfill", names=["good"]).failed
        assert errors() == {"good": None, "flaky": "series 'flaky': the sensor was offline"}
        # Processed without an error since: the error is gone.
        assert not run_pipeline(context, None, kind="backfill", names=["flaky"]).failed
        assert errors() == {"good": None, "flaky": None}
    finally:
        context.close()


# --- a corrupt model artifact ------------------------------------------------------------


def corrupt(version_dir: Path) -> None:
    """NaN in the first weight array of a stored version, as a bad disk or copy leaves it."""
    path = version_dir / store.WEIGHTS_FILE
    with np.load(path) as archive:
        arrays = [archive[key] for key in archive.files]
    arrays[0][:] = np.nan
    np.savez(path, *arrays)


def test_a_model_with_nan_weights_is_retrained_not_a_failure_every_cycle(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = database("sqlite", request, tmp_path, "nan")
    write_series(tmp_path / "s.csv", n=300)
    frame = pd.read_csv(tmp_path / "s.csv")
    frame.iloc[:260].to_csv(tmp_path / "first.csv", index=False)
    frame.iloc[260:].to_csv(tmp_path / "later.csv", index=False)
    context = migrated(url, tmp_path / "run")
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "first.csv", series="s"))
        assert not run_pipeline(context, None, kind="backfill").failed
        root = context.settings.model_dir
        with context.engine.connect() as connection:
            recorded = connection.execute(text("SELECT artifact_path FROM model_versions")).all()
        assert recorded == [("default/s/1",)]  # relative to model_dir, as the README says
        assert store.artifact_directory(root, "default/s/1") == root / "default" / "s" / "1"
        assert store.artifact_directory(root, "/old/abs/1") == Path("/old/abs/1")
        corrupt(root / "default" / "s" / "1")
        with pytest.raises(ModelArtifactError, match=r"are corrupt: weight array 0 has \d+ non"):
            store.load_model(root, "default", "s", context.models.network_for, 1)
        context.close()  # a daemon started later reads the model from disk
        clock = context.clock
        context = open_context(context.settings)
        context.clock = clock
        ingest_file(context, IngestRequest(path=tmp_path / "later.csv", series="s"))
        report = Cycles(context).detect("default", T0 + timedelta(days=1))
        with context.engine.connect() as connection:
            finite = connection.execute(
                text("SELECT count(*) FROM forecasts WHERE ts > :t"),
                {"t": pd.Timestamp(frame["timestamp"].iloc[259]).to_pydatetime()},
            ).scalar()
    finally:
        context.close()
    assert report.failed == 0 and report.models_trained >= 1 and report.points == 40
    assert finite and finite >= 40


# --- the database and its schema -------------------------------------------------------


def test_unknown_revisions_are_clear_errors(empty_db_url: str) -> None:
    engine = make_engine(DatabaseSettings(url=empty_db_url))
    try:
        with pytest.raises(DatabaseError, match=r"cannot migrate to revision 'nosuchrev': .*0001"):
            migrate.upgrade(engine, "nosuchrev")
        migrate.upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'zzz9'"))
        for attempt in (
            migrate.require_current_schema,
            migrate.upgrade,
            lambda e: migrate.downgrade(e, "base"),
        ):
            with pytest.raises(DatabaseError, match=r"at revision 'zzz9', which this forecaster"):
                attempt(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notadb://x", "database.url: unknown database 'notadb' in notadb://x"),
        ("postgresql+nodriver://u@h/d", "unknown database 'postgresql+nodriver'"),
        ("no url at all", "database.url: not a valid SQLAlchemy URL: 'no url at all'"),
    ],
)
def test_a_database_url_forecaster_cannot_open_is_a_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("+", r"\+")):
        make_engine(DatabaseSettings(url=url))
