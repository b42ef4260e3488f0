"""The daemon's cycles in process on real databases with tiny real models: same rows as
backfill, catch-up, drift retraining, leases between replicas, database outages."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from forecaster.db.repo.leases import claim_series
from pipelines.daemon.cycles import Cycles
from pipelines.jobs.ingest import IngestRequest, ingest_file
from pipelines.jobs.retrain import drift_ratio, retrain_series
from pipelines.jobs.status import pipeline_status
from tests.helpers.daemon import TcpProxy, count_rows, wait_for
from tests.helpers.databases import PostgresServer, database
from tests.helpers.pipelines import backfill_reference, load_rows, migrated
from tests.helpers.series import scored_rows, write_series

CYCLE = datetime(2030, 1, 1, tzinfo=UTC)


def test_daemon_cycles_write_the_same_rows_as_one_backfill(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv", n=900)
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    reference_url = database(backend, request, tmp_path, "reference")
    backfill_reference(reference_url, tmp_path)

    context = migrated(db_url, tmp_path / "daemon")
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        # New points arrive in batches of every size, one cycle after each.
        start = 0
        for k, stop in enumerate((150, 230, 231, 260, 500, 501, 640, 900)):
            load_rows(context, tmp_path / "s.csv", "s", slice(start, stop))
            report = cycles.detect("default", CYCLE + timedelta(minutes=k))
            assert report.failed == 0 and report.aborted is None and report.series == 1
            start = stop
        assert len(cycles.memory) == 1  # later cycles read only new points: the same rows
        with context.engine.connect() as connection:
            steps = connection.execute(text("SELECT max(step) FROM forecasts")).scalar()
            fresh = connection.execute(
                text(
                    "SELECT count(*) FROM forecasts WHERE issued_at = (SELECT max(last_ts) FROM "
                    "watermarks)"
                )
            ).scalar()
    finally:
        context.close()
    assert scored_rows(db_url) == scored_rows(reference_url)
    assert steps == 3 and fresh == 3  # fresh forecasts for the whole horizon


def per_series_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """`scored_rows` of several series, told apart by name."""
    queries = {
        "anomalies": "SELECT s.name, a.ts, a.observed, a.predicted, a.residual, a.threshold, "
        "a.score, a.severity, a.direction FROM anomalies a JOIN series s ON s.id = a.series_id "
        "ORDER BY s.name, a.ts",
        "events": "SELECT s.name, e.start_ts, e.end_ts, e.peak_ts, e.peak_score, e.n_points, "
        "e.direction FROM anomaly_events e JOIN series s ON s.id = e.series_id "
        "ORDER BY s.name, e.start_ts",
        "one_step": "SELECT s.name, f.issued_at, f.ts, f.predicted FROM forecasts f "
        "JOIN series s ON s.id = f.series_id JOIN watermarks w ON w.series_id = f.series_id "
        "WHERE f.step = 1 AND f.ts <= w.last_ts ORDER BY s.name, f.ts",
        "watermarks": "SELECT s.name, w.last_ts FROM watermarks w JOIN series s "
        "ON s.id = w.series_id ORDER BY s.name",
    }
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = {k: [tuple(r) for r in connection.execute(text(q))] for k, q in queries.items()}
    engine.dispose()
    return rows


def test_batched_cycles_over_several_series_write_what_backfill_writes(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Series claimed together are read in one transaction and written in another; one that
    # needs a catch-up goes on alone. Every series' rows are still its backfill's rows.
    write_series(tmp_path / "a.csv", n=800)
    frame = pd.read_csv(tmp_path / "a.csv")
    frame.assign(value=frame["value"] * 1.5 + 3).to_csv(tmp_path / "b.csv", index=False)
    frame.assign(value=frame["value"][::-1].to_numpy()).to_csv(tmp_path / "c.csv", index=False)
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    reference_url = database(backend, request, tmp_path, "reference")
    backfill_reference(reference_url, tmp_path, ["a", "b", "c"])

    context = migrated(db_url, tmp_path / "daemon")
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        loaded = dict.fromkeys("abc", 0)
        # (a, b, c) rows present after each cycle: one point, several, none, a long backlog.
        for k, stops in enumerate(
            [
                (300, 250, 0),
                (301, 260, 0),
                (302, 260, 210),
                (420, 261, 211),
                (421, 262, 700),
                (800, 800, 800),
            ]
        ):
            for name, stop in zip("abc", stops, strict=True):
                if stop > loaded[name]:
                    load_rows(context, tmp_path / f"{name}.csv", name, slice(loaded[name], stop))
                    loaded[name] = stop
            report = cycles.detect("default", CYCLE + timedelta(minutes=k))
            assert report.failed == 0 and report.aborted is None, report.errors
    finally:
        context.close()
    assert per_series_rows(db_url) == per_series_rows(reference_url)


def test_catch_up_after_downtime_processes_the_backlog_in_chunks(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv", n=1300)
    context = migrated(db_url, tmp_path / "daemon")
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        load_rows(context, tmp_path / "s.csv", "s", slice(0, 400))
        cycles.detect("default", CYCLE)
        # Down for a long time: 900 points arrive; the first cycle after takes them all.
        load_rows(context, tmp_path / "s.csv", "s", slice(400, 1300))
        report = cycles.detect("default", CYCLE + timedelta(hours=6))
        assert report.points == 900 and report.failed == 0
        with context.engine.connect() as connection:
            mark = connection.execute(text("SELECT last_ts FROM watermarks")).scalar()
            runs = connection.execute(
                text(
                    "SELECT series_count, points_read, status, cycle_at FROM pipeline_runs "
                    "WHERE kind = 'daemon-detect' ORDER BY id"
                )
            ).all()
        assert str(mark).startswith("2024-05-14 12:45")
        assert [(r[0], r[1], r[2]) for r in runs] == [(1, 200, "ok"), (1, 900, "ok")]
        # The same cycle again finds the series done: leases mark it for this cycle.
        assert cycles.detect("default", CYCLE + timedelta(hours=6)).series == 0
    finally:
        context.close()


def write_unusable(path: Path) -> None:
    """A series no pipeline can use: one value too large to compute with."""
    values = [1.0 + (i % 7) for i in range(400)]
    values[123] = 1e200
    index = pd.date_range("2024-05-01", periods=400, freq="h")
    pd.DataFrame({"timestamp": index, "value": values}).to_csv(path, index=False)


def test_a_bad_series_is_recorded_and_the_others_go_on(db_url: str, tmp_path: Path) -> None:
    write_series(tmp_path / "s.csv", n=500)
    write_unusable(tmp_path / "flat.csv")
    context = migrated(db_url, tmp_path / "daemon")
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="good"))
        ingest_file(context, IngestRequest(path=tmp_path / "flat.csv", series="flat"))
        report = Cycles(context, clock=lambda: CYCLE).detect("default", CYCLE)
        with context.engine.connect() as connection:
            run = connection.execute(
                text("SELECT status, series_count, series_failed, error FROM pipeline_runs")
            ).one()
    finally:
        context.close()
    assert report.series == 2 and report.failed == 1 and report.points == 300
    assert run[:3] == ("partial", 2, 1) and "flat: " in run[3] and "too large" in run[3]


def test_each_failed_series_error_is_recorded_by_name_for_status(
    db_url: str, tmp_path: Path
) -> None:
    # Two failing series, one named with the separator of the `error` summary: status reads
    # the structured `series_errors`, never the summary text.
    write_series(tmp_path / "s.csv", n=500)
    write_unusable(tmp_path / "flat.csv")
    context = migrated(db_url, tmp_path / "daemon")
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="good"))
        for name in ("flat; too", "flat"):
            ingest_file(context, IngestRequest(path=tmp_path / "flat.csv", series=name))
        report = Cycles(context, clock=lambda: CYCLE).detect("default", CYCLE)
        [pipeline] = pipeline_status(context)
    finally:
        context.close()
    assert set(report.errors) == {"flat; too", "flat"} and "status=partial" in report.log_line()
    errors = {s.series: s.error for s in pipeline.series}
    assert errors["good"] is None
    assert all("too large" in (errors[name] or "") for name in ("flat; too", "flat"))
    assert pipeline.last_run is not None and pipeline.last_run.series_errors == report.errors


def test_drift_retrains_at_the_watermark_and_later_points_use_the_new_model(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv", n=700)
    frame = pd.read_csv(tmp_path / "s.csv")
    frame.loc[450:, "value"] = frame.loc[450:, "value"] * 3 - 20  # the process changes
    frame.to_csv(tmp_path / "s.csv", index=False)
    context = migrated(
        db_url,
        tmp_path / "daemon",
        training={
            "initial_points": 200,
            "retrain_every": 5000,
            "drift_window": 100,
            "drift_factor": 1.5,
        },
    )
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        pipeline = context.settings.pipeline(None)
        load_rows(context, tmp_path / "s.csv", "s", slice(0, 440))
        cycles.detect("default", CYCLE)
        before = drift_ratio(context, pipeline, "s")
        assert before is not None and before < 1.5
        assert cycles.retrain("default", CYCLE, scheduled=False).models_trained == 0
        load_rows(context, tmp_path / "s.csv", "s", slice(440, 600))
        cycles.detect("default", CYCLE + timedelta(minutes=1))
        after = drift_ratio(context, pipeline, "s")
        assert after is not None and after > 1.5
        retrained = cycles.retrain("default", CYCLE + timedelta(minutes=1), scheduled=False)
        assert retrained.models_trained == 1
        assert not retrain_series(context, pipeline, "s", reason="again")  # nothing new
        load_rows(context, tmp_path / "s.csv", "s", slice(600, 700))
        cycles.detect("default", CYCLE + timedelta(minutes=2))
        with context.engine.connect() as connection:
            versions = connection.execute(
                text(
                    "SELECT v.version, min(f.ts), max(f.ts) FROM forecasts f JOIN "
                    "model_versions v ON v.id = f.model_version_id WHERE f.step = 1 "
                    "GROUP BY v.version ORDER BY v.version"
                )
            ).all()
    finally:
        context.close()
    assert [v[0] for v in versions] == [1, 2]
    # Version 2 (cut-off at the watermark of point 599) scores every later point.
    assert str(versions[1][1]).startswith(str(frame.loc[600, "timestamp"])[:16])


def test_a_dead_replicas_series_go_to_the_others_when_its_lease_expires(
    db_url: str, tmp_path: Path
) -> None:
    write_series(tmp_path / "s.csv", n=300)
    context = migrated(db_url, tmp_path / "daemon")
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        survivor = Cycles(context, replica="survivor", clock=lambda: CYCLE)
        assert survivor.detect("default", CYCLE).series == 1  # creates the lease rows
        # A replica claims the series for the next cycle and dies without releasing it.
        with context.sessions.begin() as session:
            claimed = claim_series(
                session=session,
                pipeline="default",
                job="detect",
                cycle_at=CYCLE + timedelta(minutes=1),
                owner="dead",
                now=CYCLE,
                lease_until=CYCLE + timedelta(seconds=600),
            )
        assert claimed == [1]
        # While the lease lives, nobody else takes the series ...
        assert survivor.detect("default", CYCLE + timedelta(minutes=2)).series == 0
        # ... once it has expired, the next cycle does.
        later = Cycles(context, replica="survivor", clock=lambda: CYCLE + timedelta(minutes=11))
        assert later.detect("default", CYCLE + timedelta(minutes=11)).series == 1
    finally:
        context.close()


def test_a_database_outage_mid_cycle_loses_nothing(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: PostgresServer = request.getfixturevalue("pg_server")
    write_series(tmp_path / "s.csv", n=1300)
    reference_url = server.create_database("outage_reference")
    backfill_reference(reference_url, tmp_path)

    real_url = server.create_database("outage")
    proxy = TcpProxy(5432)
    proxied = real_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert proxied != real_url
    context = migrated(proxied, tmp_path / "daemon")
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        cycles = Cycles(context, clock=lambda: CYCLE)
        outcome: list[Any] = []
        worker = threading.Thread(target=lambda: outcome.append(cycles.detect("default", CYCLE)))
        worker.start()
        wait_for(lambda: count_rows(real_url, "forecasts") >= 300, timeout=180)
        proxy.cut()  # the database goes away mid-cycle ...
        time.sleep(3)
        proxy.restore()  # ... and comes back
        worker.join(timeout=300)
        assert outcome and outcome[0].aborted is None and outcome[0].failed == 0
    finally:
        context.close()
        proxy.close()
    assert proxy.cuts == 1
    assert scored_rows(real_url) == scored_rows(reference_url)


def test_an_outage_while_a_claim_is_written_retries_the_claim_and_loses_nothing(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database goes away at the moment a claim's rows are sent (several series in one
    # transaction): the transaction is lost whole, the claim is read and written again.
    from pipelines.detect.sink import DatabaseSink

    server: PostgresServer = request.getfixturevalue("pg_server")
    write_series(tmp_path / "a.csv", n=330)
    frame = pd.read_csv(tmp_path / "a.csv")
    frame.assign(value=frame["value"] * 2 - 7).to_csv(tmp_path / "b.csv", index=False)
    reference_url = server.create_database("claim_reference")
    backfill_reference(reference_url, tmp_path, ["a", "b"])

    real_url = server.create_database("claim_outage")
    proxy = TcpProxy(5432)
    context = migrated(
        real_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"), tmp_path / "daemon"
    )
    try:
        cycles = Cycles(context, clock=lambda: CYCLE)
        for name in "ab":
            load_rows(context, tmp_path / f"{name}.csv", name, slice(0, 320))
        assert cycles.detect("default", CYCLE).failed == 0
        for name in "ab":
            load_rows(context, tmp_path / f"{name}.csv", name, slice(320, 330))
        write = DatabaseSink.write
        sent: list[int] = []

        def write_during_an_outage(self: Any, rows: Any) -> None:
            if not sent:  # the first time only: cut, and come back two seconds later
                proxy.cut()
                threading.Timer(2.0, proxy.restore).start()
            sent.append(sum(r.watermark is not None for r in rows))
            write(self, rows)

        monkeypatch.setattr(DatabaseSink, "write", write_during_an_outage)
        report = cycles.detect("default", CYCLE + timedelta(minutes=1))
    finally:
        context.close()
        proxy.close()
    assert report.aborted is None and report.failed == 0 and report.series == 2
    assert report.points == 20  # counted once, though scored twice
    assert sent[0] == 2 and sum(sent) >= 4  # both series in the lost transaction, then again
    assert per_series_rows(real_url) == per_series_rows(reference_url)
