"""Ingest into the database: shared files load as is, reloads are no-ops, bad files write none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forecaster.config.database import DatabaseSettings
from forecaster.config.settings import Settings
from forecaster.db.repo import observations
from forecaster.db.tables import Observation, Series
from forecaster.errors import IngestError
from forecaster.io.files import ReadOptions
from pipelines.context import AppContext, open_context
from pipelines.jobs.ingest import IngestRequest, ingest_file


@pytest.fixture
def context(db_url: str) -> Iterator[AppContext]:
    context = open_context(Settings(database=DatabaseSettings(url=db_url)))
    yield context
    context.close()


def observation_count(context: AppContext, series: str | None = None) -> int:
    with context.sessions() as session:
        statement = select(func.count()).select_from(Observation)
        if series is not None:
            statement = statement.join(Series).where(Series.name == series)
        return int(session.scalar(statement) or 0)


def data_rows(path: Path) -> int:
    with path.open() as handle:
        return sum(1 for line in handle if line.strip()) - 1


def test_every_shared_file_loads(context: AppContext, shared_data: Path) -> None:
    files = sorted((shared_data / "nab" / "data").glob("*/*.csv"))
    assert len(files) == 18
    stored = 0
    for path in files:
        report = ingest_file(context, IngestRequest(path=path, series=path.stem))
        # Two real files repeat timestamps (DST artefacts): one row per timestamp is kept.
        unique_rows = data_rows(path) - report.file.duplicates_dropped
        assert report.counts.inserted == unique_rows == len(report.file.points), path
        assert observation_count(context, path.stem) == unique_rows, path
        stored += unique_rows
    duplicates = {
        p.stem: n for p in files if (n := data_rows(p) - observation_count(context, p.stem))
    }
    assert duplicates == {
        "ec2_request_latency_system_failure": 11,
        "machine_temperature_system_failure": 12,
    }
    vix = shared_data / "stocks" / "vix-daily.csv"
    report = ingest_file(
        context,
        IngestRequest(path=vix, series="vix", kind="stock", read=ReadOptions(value_column="CLOSE")),
    )
    assert report.counts.inserted == data_rows(vix) == 9235
    assert report.kind == "stock" and report.frequency == "B"
    assert observation_count(context) == stored + 9235


def test_reingest_changes_nothing(context: AppContext, shared_data: Path) -> None:
    path = shared_data / "nab" / "data" / "realKnownCause" / "rogue_agent_key_hold.csv"
    first = ingest_file(context, IngestRequest(path=path, series="keys"))
    second = ingest_file(context, IngestRequest(path=path, series="keys"))
    assert first.created and not second.created
    assert (second.counts.inserted, second.counts.updated) == (0, 0)
    assert second.counts.unchanged == data_rows(path)
    assert observation_count(context) == data_rows(path)


def test_overlapping_file_updates_values(context: AppContext, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text("timestamp,value\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n")
    second = tmp_path / "b.csv"
    second.write_text("timestamp,value\n2024-01-02,2\n2024-01-03,30\n2024-01-04,4\n")
    ingest_file(context, IngestRequest(path=first, series="s"))
    report = ingest_file(context, IngestRequest(path=second, series="s"))
    assert (report.counts.inserted, report.counts.updated, report.counts.unchanged) == (1, 1, 1)
    with context.sessions() as session:
        values = session.scalars(select(Observation.value).order_by(Observation.ts)).all()
    assert values == [1.0, 2.0, 30.0, 4.0]


def test_bad_file_writes_nothing(context: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,value\n2024-01-01,1\n2024-01-02,oops\n")
    with pytest.raises(
        IngestError, match=r"bad\.csv: 1 bad row\(s\): line 3: unparseable value 'oops'"
    ):
        ingest_file(context, IngestRequest(path=path, series="s"))
    with context.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Series)) == 0
    assert observation_count(context) == 0


def test_skip_bad_rows_loads_the_rest(context: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,value\n2024-01-01,1\n2024-01-02,oops\n2024-01-03,3\n")
    report = ingest_file(
        context, IngestRequest(path=path, series="s", read=ReadOptions(skip_bad_rows=True))
    )
    assert len(report.file.bad_rows) == 1 and report.counts.inserted == 2
    assert observation_count(context) == 2


def test_write_failure_rolls_back_everything(
    context: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after some batches were written leaves no partial rows behind."""
    path = tmp_path / "big.csv"
    rows = "".join(f"2024-01-01T00:{i // 60:02d}:{i % 60:02d},{i}\n" for i in range(3600))
    path.write_text("timestamp,value\n" + rows)

    def fail_midway(done: int, total: int) -> None:
        if done >= 1000:
            raise RuntimeError("simulated crash mid-ingest")

    # Batches of 500 rows: the crash comes after two batches were sent.
    monkeypatch.setattr(observations, "UPSERT_BATCH_ROWS", 500)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest_file(context, IngestRequest(path=path, series="s"), on_progress=fail_midway)
    assert observation_count(context) == 0
