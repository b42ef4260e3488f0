"""`redetect` decides stored predictions again: the rows a backfill with its settings writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forecaster.db.repo.rescoring import clear_detections
from forecaster.db.repo.series import find_series
from forecaster.db.session import transaction
from pipelines.context import AppContext
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from pipelines.jobs.redetect import redetect
from tests.helpers.databases import database
from tests.helpers.irregular import write_irregular
from tests.helpers.pipelines import migrated
from tests.helpers.series import SPIKE_AT, scored_rows, write_series

# Detection settings other than the tiny pipeline's: another threshold, a looser score bar,
# events merged further, and the stuck rule off.
OTHER: dict[str, Any] = {
    "detection": {
        "scorer": {"window": 150, "min_history": 40},
        "threshold": {"window": 150, "refit_every": 20, "min_history": 40},
        "min_score": 0.8,
        "merge_gap": 3,
        "stuck": {"enabled": False},
    }
}
FLAT = 40  # readings the flat-start series begins with


def write_flat_start(path: Path, n: int = 900) -> None:
    """A sensor that reads a constant for its first FLAT points, then comes alive."""
    rng = np.random.default_rng(5)
    t = np.arange(n)
    values = 5 + np.sin(2 * np.pi * t / 96) + rng.normal(0, 0.1, n)
    values[:FLAT] = 3.0
    values[700:704] -= 4.0
    index = pd.date_range("2024-05-01", periods=n, freq="15min")
    pd.DataFrame({"timestamp": index, "value": values}).to_csv(path, index=False)


def backfilled(url: str, directory: Path, csvs: dict[str, Path], **pipeline: Any) -> AppContext:
    context = migrated(url, directory, **pipeline)
    for name, path in csvs.items():
        ingest_file(context, IngestRequest(path=path, series=name))
    assert not run_pipeline(context, None, kind="backfill").failed
    return context


def detection_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    rows = scored_rows(url)
    return {"anomalies": rows["anomalies"], "events": rows["events"]}


@pytest.fixture
def csvs(tmp_path: Path) -> dict[str, Path]:
    write_series(tmp_path / "s.csv")
    write_flat_start(tmp_path / "flat.csv")
    write_irregular(tmp_path / "gappy.csv", n=1100)
    return {name: tmp_path / f"{name}.csv" for name in ("s", "flat", "gappy")}


def test_redetect_with_other_settings_equals_their_backfill(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path, csvs: dict[str, Path]
) -> None:
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    reference_url = database(backend, request, tmp_path, "reference")
    backfilled(reference_url, tmp_path / "reference", csvs, **OTHER).close()
    expected = detection_rows(reference_url)
    assert expected["anomalies"], "the reference must find anomalies for the test to mean much"
    assert any(row[-1] == "flat_start" for row in expected["anomalies"])

    backfilled(db_url, tmp_path / "first", csvs).close()
    first = scored_rows(db_url)
    assert detection_rows(db_url) != expected  # the settings do change the rows
    context = migrated(db_url, tmp_path / "second", **OTHER)
    try:
        result = redetect(context, None)
    finally:
        context.close()
    assert not result.failed
    assert detection_rows(db_url) == expected
    after = scored_rows(db_url)
    assert after["one_step"] == first["one_step"] and after["watermarks"] == first["watermarks"]


def test_redetect_from_a_start_keeps_the_rows_before_it(
    db_url: str, tmp_path: Path, csvs: dict[str, Path]
) -> None:
    context = backfilled(db_url, tmp_path / "first", csvs)
    try:
        expected = detection_rows(db_url)
        spike = pd.Timestamp("2024-05-01", tz="UTC") + SPIKE_AT * pd.Timedelta("15min")
        with transaction(context.sessions) as session:  # lose the rows after the spike's start
            series = find_series(session=session, name="s")
            assert series is not None
            clear_detections(session=session, pipeline="default", series_id=series.id, before=spike)
        assert detection_rows(db_url) != expected
        result = redetect(context, None, names=["s"], start=spike.to_pydatetime())
        gappy_start = pd.Timestamp("2024-05-03 12:00", tz="UTC").to_pydatetime()
        assert not redetect(context, None, names=["gappy"], start=gappy_start).failed
    finally:
        context.close()
    assert not result.failed and result.reports[0].anomalies > 0
    assert detection_rows(db_url) == expected


def test_redetect_skips_a_series_never_processed(db_url: str, tmp_path: Path) -> None:
    context = migrated(db_url, tmp_path / "cfg")
    try:
        write_series(tmp_path / "s.csv")
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        result = redetect(context, None)
    finally:
        context.close()
    (report,) = result.reports
    assert report.ok and report.anomalies == 0
    assert report.notes == ["not processed yet: nothing to redetect (run backfill first)"]
