"""Executors and leases on a real database: local worker processes and a Dask LocalCluster
relay progress to the parent's bars, and a series' lease goes to one owner at a time."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forecaster.config.executor import ExecutorSettings
from forecaster.db.repo.leases import release_leases, take_lease
from forecaster.db.repo.series import ensure_series_ids
from forecaster.db.session import transaction
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from tests.helpers.pipelines import migrated
from tests.helpers.several import POINTS, SERIES, write_three


@contextmanager
def executor_of(kind: str) -> Iterator[ExecutorSettings]:
    """Two local worker processes, or a real 2-worker Dask LocalCluster."""
    if kind == "processes":
        yield ExecutorSettings(workers=2)
        return
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        yield ExecutorSettings(dask=cluster.scheduler_address)


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_workers_relay_every_series_progress(
    kind: str, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    context = migrated(db_url, tmp_path / "work")
    try:
        for path in write_three(tmp_path):
            ingest_file(context, IngestRequest(path=path, series=path.stem))
        started: dict[str, int] = {}
        advanced: dict[str, int] = defaultdict(int)
        done: list[str] = []

        def on_series(name: str, pending: int):  # type: ignore[no-untyped-def]
            started[name] = pending

            def advance(points: int, _last: datetime | None) -> None:
                advanced[name] += points

            return advance

        with executor_of(kind) as executor:
            result = run_pipeline(
                context,
                None,
                kind="backfill",
                executor=executor,
                on_series=on_series,
                on_done=lambda report: done.append(report.series),
            )
    finally:
        context.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a quiet scheduler
    assert not result.failed, [r.error for r in result.reports]
    assert [r.series for r in result.reports] == list(SERIES)  # the selection's order
    assert sorted(done) == list(SERIES)
    assert started == dict.fromkeys(SERIES, POINTS)
    assert dict(advanced) == dict.fromkeys(SERIES, POINTS)
    assert all(r.points_read == POINTS and r.models_trained == 2 for r in result.reports)


def test_a_lease_has_one_owner_until_it_is_released_or_expires(db_url: str, tmp_path: Path) -> None:
    context = migrated(db_url, tmp_path / "work")
    now = datetime(2025, 1, 1, tzinfo=UTC)
    later = now + timedelta(minutes=10)

    def take(owner: str, at: datetime) -> str | None:
        with transaction(context.sessions) as session:
            series_id = ensure_series_ids(session=session, names=["s"])["s"]
            holder = take_lease(
                session=session,
                pipeline="default",
                series_id=series_id,
                owner=owner,
                now=at,
                lease_until=at + timedelta(minutes=5),
            )
            return None if holder is None else holder.owner

    try:
        assert take("backfill run 1", now) is None
        assert take("replica a", now + timedelta(minutes=1)) == "backfill run 1"
        assert take("backfill run 1", now + timedelta(minutes=1)) is None  # a retried task
        assert take("replica a", later) is None  # the first lease expired
        with transaction(context.sessions) as session:
            series_id = ensure_series_ids(session=session, names=["s"])["s"]
            release_leases(
                session=session, pipeline="default", series_ids=[series_id], owner="replica a"
            )
        assert take("backfill run 2", later) is None
    finally:
        context.close()
