"""Benchmark fixtures: synthetic series bulk-loaded into `observations`, and one series' trained
models copied to many others, so a benchmark measures scoring and writing, not training.

A model is trained once, for real, by the pipeline itself (`run_pipeline` on a template series);
its model files and `model_versions` rows (with the `cutoff_step` the walk-forward schedule looks
up, see `pipelines.detect.walk_forward.WalkForward.model_for`) are then copied to the other
series. Series that share the template's start and frequency share its grid steps, so the
copied model is the one each of their cut-offs asks for and nothing is trained again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import DateTime, text
from sqlalchemy.engine import Connection

from bench.common import fresh_database
from forecaster.config.database import DatabaseSettings
from forecaster.config.pipeline import PipelineSettings
from forecaster.config.settings import Settings
from forecaster.config.training import TrainingSchedule
from forecaster.db.repo import series as series_rows
from forecaster.db.session import transaction
from forecaster.model.store import META_FILE, series_directory
from pipelines.context import AppContext, open_context
from pipelines.jobs.backfill import run_pipeline

FREQUENCY = pd.Timedelta("5min")
START = pd.Timestamp("2024-01-01", tz="UTC")
BULK_ROWS = 100_000  # rows generated and written per batch (bounds the loader's memory)
PIPELINE = "default"
TEMPLATE = "template"
TEMPLATE_POINTS = 3000  # enough for the first cut-off (initial_points, 500 by default) and more
# What a backfill writes, deleted between repeats (observations and models stay).
BACKFILL_TABLES = ("forecasts", "anomalies", "anomaly_events", "watermarks")


def synthetic(n: int, seed: int = 0, offset: int = 0) -> np.ndarray:
    """Daily-seasonal 5-minute sensor values with noise (points offset..offset+n-1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(offset, offset + n)
    return 20 + 3 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.4, n)


def grid(n: int, offset: int = 0) -> pd.DatetimeIndex:
    """The times of points offset..offset+n-1 of every benchmark series."""
    return pd.date_range(START + offset * FREQUENCY, periods=n, freq=FREQUENCY)


def create_benchmark_series(context: AppContext, names: Sequence[str]) -> list[int]:
    """Series rows (5-minute sensors) for `names`; their ids in the same order."""
    with transaction(context.sessions) as session:
        rows = [
            series_rows.create_series(session=session, name=n, kind="sensor", frequency="5min")
            for n in names
        ]
        session.flush()
        return [r.id for r in rows]


def load_synthetic(context: AppContext, names: Sequence[str], points: int, seed: int = 0) -> int:
    """Create `names` and bulk-insert `points` synthetic points into each (series k uses seed
    `seed + k`), one transaction per series; returns the rows written."""
    ids = create_benchmark_series(context, names)
    for k, series_id in enumerate(ids):
        with context.engine.begin() as connection:
            for offset in range(0, points, BULK_ROWS):
                n = min(BULK_ROWS, points - offset)
                rng_seed = (seed + k) * 1_000_003 + offset  # batches differ, runs repeat
                bulk_insert(connection, series_id, grid(n, offset), synthetic(n, rng_seed, offset))
    return len(ids) * points


def bulk_insert(
    connection: Connection, series_id: int, index: pd.DatetimeIndex, values: np.ndarray
) -> None:
    """Plain inserts of new points (no upsert, no comparison with stored points): COPY on
    PostgreSQL, one executemany of pre-formatted rows on SQLite."""
    naive = index.tz_convert("UTC").tz_localize(None).values
    if connection.dialect.name == "postgresql":
        stamps = np.datetime_as_string(naive, unit="us")
        rows = zip(stamps, values.tolist(), strict=True)
        body = "".join(f"{series_id}\t{t}Z\t{v!r}\n" for t, v in rows)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy("COPY observations (series_id, ts, value) FROM STDIN") as copy:
            copy.write(body)
        return
    if connection.dialect.name != "sqlite":
        raise ValueError(f"no bulk insert for {connection.dialect.name}")
    # The exact text SQLAlchemy stores for a UTC time on SQLite (naive ISO with microseconds):
    # range reads compare strings, so a different format would silently miss points.
    stamps = np.char.replace(np.datetime_as_string(naive, unit="us"), "T", " ")
    expected = _sqlite_time_text(connection, index[0].to_pydatetime())
    assert stamps[0] == expected, (stamps[0], expected)
    connection.exec_driver_sql(
        "INSERT INTO observations (series_id, ts, value) VALUES (?, ?, ?)",
        [(series_id, str(t), v) for t, v in zip(stamps, values.tolist(), strict=True)],
    )


def _sqlite_time_text(connection: Connection, at: datetime) -> str:
    dialect = connection.dialect
    process = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return str(process(at.replace(tzinfo=None)))


@dataclass(frozen=True)
class Template:
    """The series trained for real, and what training it cost."""

    name: str
    models_trained: int
    seconds: float


def train_template(context: AppContext, pipeline: str | None, name: str) -> Template:
    """Backfill the template series with the pipeline's settings: it trains its models."""
    started = time.perf_counter()
    result = run_pipeline(context, pipeline, kind="backfill", names=[name])
    assert not result.failed, result.failed
    trained = sum(r.models_trained for r in result.reports)
    assert trained > 0, "the template series trained no model"
    return Template(name=name, models_trained=trained, seconds=time.perf_counter() - started)


def clone_models(context: AppContext, pipeline: str, template: str, targets: Sequence[str]) -> None:
    """Copy the template's `model_versions` rows and model files to every target series."""
    with transaction(context.sessions) as session:
        source_id = series_rows.get_series(session=session, name=template).id
        target_ids = [series_rows.get_series(session=session, name=n).id for n in targets]
    with context.engine.begin() as connection:
        for target_id in target_ids:
            connection.execute(
                text(
                    "INSERT INTO model_versions (pipeline, series_id, version, trained_from, "
                    "trained_to, metrics, artifact_path, created_at) SELECT m.pipeline, :target, "
                    "m.version, m.trained_from, m.trained_to, m.metrics, m.artifact_path, "
                    "m.created_at FROM model_versions m "
                    "WHERE m.series_id = :source AND m.pipeline = :pipeline"
                ),
                {"target": target_id, "source": source_id, "pipeline": pipeline},
            )
    root = context.settings.model_dir
    source_dir = series_directory(root, pipeline, template)
    for name in targets:
        target_dir = series_directory(root, pipeline, name)
        shutil.copytree(source_dir, target_dir)
        for meta_path in target_dir.glob(f"*/{META_FILE}"):
            meta = json.loads(meta_path.read_text())
            meta["series"] = name
            meta_path.write_text(json.dumps(meta))


def one_model_settings(url: str, model_dir: Path, points: int) -> Settings:
    """The shipped defaults, except `retrain_every`: set to the series length, so the
    walk-forward schedule of a `points`-point series has one cut-off (at `initial_points`) and
    one model scores all of it."""
    pipeline = PipelineSettings(name=PIPELINE, training=TrainingSchedule(retrain_every=points))
    return Settings(database=DatabaseSettings(url=url), model_dir=model_dir, pipelines=[pipeline])


def series_names(series: int) -> list[str]:
    """The names of the benchmark series (the template aside)."""
    return [f"s{k:04d}" for k in range(series)]


@dataclass(frozen=True)
class Prepared:
    """Series loaded with a stored model each, and what each setup phase took."""

    names: list[str]
    rows: int
    load_seconds: float
    train_seconds: float
    clone_seconds: float

    def phase_seconds(self) -> dict[str, float]:
        """Seconds of each setup phase."""
        return {
            "load": self.load_seconds,
            "train_template": self.train_seconds,
            "copy_models": self.clone_seconds,
        }


def prepare(context: AppContext, series: int, points: int) -> Prepared:
    """`series` synthetic series of `points` points, each with the template's trained model."""
    names = series_names(series)
    started = time.perf_counter()
    rows = load_synthetic(context, names, points, seed=1)
    load_seconds = time.perf_counter() - started
    load_synthetic(context, [TEMPLATE], min(points, TEMPLATE_POINTS), seed=0)
    template = train_template(context, PIPELINE, TEMPLATE)
    started = time.perf_counter()
    clone_models(context, PIPELINE, TEMPLATE, names)
    return Prepared(
        names=names,
        rows=rows,
        load_seconds=load_seconds,
        train_seconds=template.seconds,
        clone_seconds=time.perf_counter() - started,
    )


def timed_backfill(context: AppContext, names: Sequence[str]) -> dict[str, Any]:
    """Backfill `names` with the first pipeline; seconds taken and the totals of its reports."""
    started = time.perf_counter()
    result = run_pipeline(context, PIPELINE, kind="backfill", names=names)
    seconds = time.perf_counter() - started
    reports = result.reports
    return {
        "seconds": seconds,
        "points_read": sum(r.points_read for r in reports),
        "points_scored": sum(r.points_scored for r in reports),
        "anomalies": sum(r.anomalies for r in reports),
        "models_trained": sum(r.models_trained for r in reports),
        "failed": [f"{r.series}: {r.error}" for r in result.failed],
    }


@contextmanager
def opened(settings: Settings) -> Iterator[AppContext]:
    """A context for `settings`, closed afterwards."""
    context = open_context(settings)
    try:
        yield context
    finally:
        context.close()


@contextmanager
def prepared_database(
    backend: str, workdir: Path, series: int, points: int
) -> Iterator[tuple[Settings, Prepared]]:
    """A fresh database on `backend` holding `prepare`d series, dropped afterwards; the
    settings to reach it (see `one_model_settings`)."""
    with fresh_database(backend, workdir) as url:
        settings = one_model_settings(url, workdir / f"models-{backend}", points)
        with opened(settings) as context:
            prepared = prepare(context, series, points)
        print(
            f"  {backend}: loaded {prepared.rows:,} points in {prepared.load_seconds:.1f} s, "
            f"template trained in {prepared.train_seconds:.1f} s, model copied to {series} "
            f"series in {prepared.clone_seconds:.1f} s",
            flush=True,
        )
        yield settings, prepared


def forget_backfill(settings: Settings, names: Sequence[str]) -> None:
    """Delete what a backfill of `names` wrote and their watermarks, then vacuum, so the next
    repeat starts from the same state (models and observations stay)."""
    with opened(settings) as context:
        with transaction(context.sessions) as session:
            ids = [series_rows.get_series(session=session, name=n).id for n in names]
        with context.engine.begin() as connection:
            for table in BACKFILL_TABLES:
                for series_id in ids:
                    connection.execute(
                        text(f"DELETE FROM {table} WHERE series_id = :id"), {"id": series_id}
                    )
        autocommit = context.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as connection:
            connection.exec_driver_sql("VACUUM")


def add_size_options(
    parser: argparse.ArgumentParser, *, series: int, points: int, repeats: int
) -> None:
    """The options every backfill benchmark takes: sizes, repeats and a JSON output file."""
    parser.add_argument("--series", type=int, default=series)
    parser.add_argument("--points", type=int, default=points, help="Points per series.")
    parser.add_argument("--repeats", type=int, default=repeats, help="Runs (median reported).")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
