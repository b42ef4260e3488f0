"""`forecaster demo`: a self-contained tour in one directory, with no server and no network.

Writes a demo config.yaml, creates the SQLite database, ingests the sample series (synthetic
sensors with injected anomalies, and the real VIX), backfills them, forecasts, and draws one
PNG per series. Every run starts fresh: the files a previous demo wrote in the directory are
removed first, and a directory holding anything else of the same names is refused.
"""

from __future__ import annotations

import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from forecaster.config.loading import load_config
from forecaster.db import migrate
from forecaster.db.session import make_engine
from forecaster.errors import ForecasterError
from forecaster.io.files import ReadOptions
from pipelines.context import AppContext, open_context
from pipelines.demo.samples import FULL, QUICK, DemoSize, SampleSeries, found, sample_series
from pipelines.detect.run import ProgressCallback
from pipelines.jobs.backfill import RunResult, run_pipeline
from pipelines.jobs.forecast import forecast_series
from pipelines.jobs.ingest import IngestRequest, ingest_file
from pipelines.jobs.train import train_series
from pipelines.plot.render import Page, plot_pages

CONFIG_FILE = "config.yaml"
DB_FILE = "forecaster.db"
MODEL_DIR = "models"
DATA_DIR = "demo-data"  # the sample series as CSV files, as they were ingested
OUTPUT_DIR = "demo-output"  # one PNG per series and index.html
PIPELINE = "demo"
HEADER = "# forecaster demo configuration, written by `forecaster demo`."
# An injected anomaly counts as found when an anomaly event overlaps its span widened by this
# many grid steps on each side (3 hours for the hourly sensors, 3 business days for VIX).
FOUND_TOLERANCE_STEPS = 3


@dataclass(frozen=True)
class DemoProfile:
    """The data size and the (cheaper than default) training settings of a demo run."""

    size: DemoSize
    epochs: int
    max_train_samples: int
    patience: int
    initial_points: int
    retrain_every: int
    # Train a model on each whole series for the forecast; else the last walk-forward model
    # (trained on the points before its cut-off) forecasts.
    train_for_forecast: bool


# The shipped defaults (16 epochs, 1,024 sequences per epoch, retraining every 2,000 steps)
# would take about 3.5 minutes on 2 cores for VIX alone: the demo trains less.
FULL_PROFILE = DemoProfile(
    size=FULL,
    epochs=6,
    max_train_samples=512,
    patience=2,
    initial_points=500,
    retrain_every=4000,
    train_for_forecast=True,
)
QUICK_PROFILE = DemoProfile(
    size=QUICK,
    epochs=3,
    max_train_samples=256,
    patience=1,
    initial_points=400,
    retrain_every=4000,
    train_for_forecast=False,
)


def config_text(profile: DemoProfile) -> str:
    """The demo's config.yaml: the shipped defaults except cheaper training (commented)."""
    return f"""{HEADER}
# Rerunning the demo in this directory removes and rewrites this file, forecaster.db,
# {MODEL_DIR}/, {DATA_DIR}/ and {OUTPUT_DIR}/. Continue with, e.g.:
#   forecaster status -c {CONFIG_FILE}
#   forecaster plot -c {CONFIG_FILE} --series vix --start 2020-01-01 --out vix-2020.png
#   forecaster daemon -c {CONFIG_FILE}    # beside: forecaster demo-feed --dir <this directory>
# Environment overrides (FORECASTER_DATABASE_URL, FORECASTER_MODEL_DIR) apply to those
# commands as to any other; the demo itself ignores them and always uses the files here.

database:
  url: sqlite:///{DB_FILE}    # next to this file

model_dir: {MODEL_DIR}

pipelines:
  - name: {PIPELINE}
    model:
      # Cheaper training than the shipped defaults, so the whole demo runs in a few minutes
      # on 2 CPU cores (the defaults are 16 epochs, 1024 sequences per epoch, patience 4).
      # Detection settings are the shipped defaults.
      epochs: {profile.epochs}
      max_train_samples: {profile.max_train_samples}
      patience: {profile.patience}
    training:
      initial_points: {profile.initial_points}  # points before the first model (default 500)
      retrain_every: {profile.retrain_every}  # steps between retrainings (default 2000)
    schedule:
      # `forecaster daemon -c {CONFIG_FILE}` looks for new points every 5 s (default 1min),
      # to keep up with `forecaster demo-feed --dir <this directory>`.
      every: 5s
"""


@dataclass(frozen=True)
class SeriesOutcome:
    """One row of the demo summary."""

    sample: SampleSeries
    points: int
    anomalies: int
    events: int
    found: list[bool]  # per label of `sample`
    png: Path | None
    error: str | None


@dataclass(frozen=True)
class DemoResult:
    """What the demo did and where it put it."""

    directory: Path
    config_path: Path
    db_path: Path
    output_dir: Path
    outcomes: list[SeriesOutcome]
    run: RunResult
    seconds: float

    @property
    def queries(self) -> list[tuple[str, str]]:
        return demo_queries()


class DemoProgress(Protocol):
    """How the demo reports progress (the CLI draws bars)."""

    def stage(self, description: str, total: int) -> Callable[[int], None]:
        """A stage of `total` items; returns the callback that advances it by a count."""

    def series(self, name: str, pending: int) -> ProgressCallback:
        """The backfill progress callback of one series with `pending` points."""


class SilentProgress:
    """Shows nothing."""

    def stage(self, description: str, total: int) -> Callable[[int], None]:
        return lambda _count: None

    def series(self, name: str, pending: int) -> ProgressCallback:
        return lambda _points, _last: None


def run_demo(
    directory: Path, *, quick: bool = False, progress: DemoProgress | None = None
) -> DemoResult:
    """Run the whole demo in `directory` (created if needed)."""
    started = time.perf_counter()
    progress = progress or SilentProgress()
    profile = QUICK_PROFILE if quick else FULL_PROFILE
    directory = directory.resolve()
    prepare_directory(directory)
    config_path = directory / CONFIG_FILE
    config_path.write_text(config_text(profile), encoding="utf-8")
    # The demo's own files only: FORECASTER_* variables must not point it at another database.
    settings = load_config(config_path, env={})
    engine = make_engine(settings.database)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    samples = sample_series(profile.size)
    context = open_context(settings)
    try:
        _ingest(context, directory / DATA_DIR, samples, progress)
        run = run_pipeline(context, PIPELINE, kind="backfill", on_series=progress.series)
        failed = {r.series: r.error for r in run.reports if not r.ok}
        # The walk-forward models were trained on history before their cut-offs; the forecast
        # of what comes next is made by a model trained on each whole series.
        train = profile.train_for_forecast
        advance = progress.stage(
            "train on all points and forecast" if train else "forecast", len(samples)
        )
        for sample in samples:
            if sample.name not in failed:
                if train:
                    train_series(context, PIPELINE, sample.name)
                forecast_series(context, PIPELINE, sample.name)
            advance(1)
        advance = progress.stage("plots", 1)
        pages = plot_pages(context, PIPELINE, [s.name for s in samples], directory / OUTPUT_DIR)
        advance(1)
    finally:
        context.close()
    outcomes = [
        _outcome(sample, page, failed.get(sample.name))
        for sample, page in zip(samples, pages, strict=True)
    ]
    return DemoResult(
        directory=directory,
        config_path=config_path,
        db_path=directory / DB_FILE,
        output_dir=directory / OUTPUT_DIR,
        outcomes=outcomes,
        run=run,
        seconds=time.perf_counter() - started,
    )


def prepare_directory(directory: Path) -> None:
    """Create `directory`, or clear what an earlier demo wrote there. Refuse a directory whose
    config.yaml or database the demo did not write: the demo never deletes a user's files."""
    if directory.exists() and not directory.is_dir():
        raise ForecasterError(f"{directory} is a file, not a directory (--dir)")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / CONFIG_FILE
    ours = config.exists() and config.read_text(encoding="utf-8").startswith(HEADER)
    for name in (CONFIG_FILE, DB_FILE):
        if (directory / name).exists() and not ours:
            raise ForecasterError(
                f"{directory / name} exists and was not written by `forecaster demo`; "
                "run the demo in another directory (--dir)"
            )
    for name in (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}.daemon.lock"):
        (directory / name).unlink(missing_ok=True)
    for name in (MODEL_DIR, DATA_DIR, OUTPUT_DIR):
        shutil.rmtree(directory / name, ignore_errors=True)


def _ingest(
    context: AppContext, data_dir: Path, samples: list[SampleSeries], progress: DemoProgress
) -> None:
    """Write each sample series as a CSV file and load it with the ingest pipeline."""
    data_dir.mkdir(parents=True, exist_ok=True)
    advance = progress.stage("ingest sample data", len(samples))
    for sample in samples:
        path = data_dir / f"{sample.name}.csv"
        sample.points.rename_axis("timestamp").to_frame("value").to_csv(
            path, date_format="%Y-%m-%dT%H:%M:%SZ"
        )
        ingest_file(
            context,
            IngestRequest(
                path=path,
                series=sample.name,
                kind=sample.kind,
                unit=sample.unit,
                frequency=sample.frequency,
                read=ReadOptions(),
            ),
        )
        advance(1)


def _outcome(sample: SampleSeries, page: Page, error: str | None) -> SeriesOutcome:
    data = page.data
    tolerance = pd.tseries.frequencies.to_offset(sample.frequency) * FOUND_TOLERANCE_STEPS
    spans = list(zip(data.events["start_ts"], data.events["end_ts"], strict=True))
    return SeriesOutcome(
        sample=sample,
        points=len(data.observed),
        anomalies=len(data.anomalies),
        events=len(data.events),
        found=found(sample.labels, spans, tolerance),
        png=page.png,
        error=error,
    )


def demo_queries() -> list[tuple[str, str]]:
    """Three queries on the demo database, each with what it answers (SQLite syntax)."""
    return [
        (
            "the 10 most anomalous points",
            "SELECT s.name, a.ts, round(a.observed, 2) AS observed, "
            "round(a.predicted, 2) AS predicted, round(a.score, 4) AS score, a.direction "
            "FROM anomalies a JOIN series s ON s.id = a.series_id "
            "ORDER BY a.score DESC LIMIT 10;",
        ),
        (
            "anomaly events per series, with the worst peak score",
            "SELECT s.name, count(*) AS events, sum(e.n_points) AS points, "
            "round(max(e.peak_score), 4) AS worst, min(e.start_ts) AS first_start "
            "FROM anomaly_events e JOIN series s ON s.id = e.series_id "
            "GROUP BY s.name ORDER BY events DESC;",
        ),
        (
            "the latest forecast of vix, with its band",
            "SELECT f.step, f.ts, round(f.predicted, 2) AS predicted, round(f.lower, 2) AS lower, "
            "round(f.upper, 2) AS upper FROM forecasts f JOIN series s ON s.id = f.series_id "
            "WHERE s.name = 'vix' AND f.issued_at = "
            "(SELECT max(issued_at) FROM forecasts WHERE series_id = s.id) ORDER BY f.step;",
        ),
    ]


def shell_command(db_path: Path, sql: str) -> str:
    """The sqlite3 command line that runs `sql` on the demo database (the queries hold no
    characters a POSIX shell expands inside double quotes)."""
    assert not set(sql) & set('"$`\\!'), sql
    return f'sqlite3 -header -column {shlex.quote(str(db_path))} "{sql}"'
