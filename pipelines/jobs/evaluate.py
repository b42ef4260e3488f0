"""`forecaster evaluate`: backfill a labelled NAB-format corpus in a scratch database, score it."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.database import DatabaseSettings
from forecaster.config.settings import Settings
from forecaster.db import migrate
from forecaster.db.tables import AnomalyEvent, Series
from forecaster.evaluation.baseline import rolling_sigma_events
from forecaster.evaluation.corpus import LabelledFile, load_corpus, read_nab_series
from forecaster.evaluation.report import CorpusReport, evaluate_corpus
from forecaster.io.files import ReadOptions
from pipelines.context import open_context
from pipelines.detect.run import ProgressCallback, SeriesReport
from pipelines.jobs.backfill import RunResult, run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file


@dataclass(frozen=True)
class Evaluation:
    """The product's and the baseline's scores on one corpus."""

    product: CorpusReport
    baseline: CorpusReport
    run: RunResult
    pipeline: str


def evaluate(
    settings: Settings,
    pipeline_name: str | None,
    data_dir: Path,
    labels: Path,
    *,
    on_series: Callable[[str, int], ProgressCallback] | None = None,
    on_done: Callable[[SeriesReport], None] | None = None,
) -> Evaluation:
    """Ingest every labelled file into a scratch SQLite database, backfill it with the
    pipeline's settings (never tuned per file) and score event starts as detections."""
    files = load_corpus(data_dir, labels)
    pipeline = settings.pipeline(pipeline_name)
    with tempfile.TemporaryDirectory(prefix="forecaster-evaluate-") as scratch:
        root = Path(scratch)
        scratch_settings = settings.model_copy(
            update={
                "database": DatabaseSettings(url=f"sqlite:///{root / 'evaluate.db'}"),
                "model_dir": root / "models",
                "pipelines": [pipeline.model_copy(update={"source": None})],
            }
        )
        context = open_context(scratch_settings, require_schema=False)
        try:
            migrate.upgrade(context.engine)
            for f in files:
                # NAB files repeat a few timestamps (clock changes): keep the last, as ingest does.
                ingest_file(context, IngestRequest(path=f.path, series=f.key, read=ReadOptions()))
            run = run_pipeline(
                context,
                pipeline.name,
                kind="evaluate",
                names=[f.key for f in files],
                on_series=on_series,
                on_done=on_done,
            )
            events = _events_by_series(context.sessions)
        finally:
            context.close()
    raw = {f.key: read_nab_series(f.path) for f in files}
    timestamps = {key: pd.DatetimeIndex(values.index) for key, values in raw.items()}
    product_events = {f.key: events.get(f.key, []) for f in files}
    baseline_events = {key: rolling_sigma_events(values) for key, values in raw.items()}
    return Evaluation(
        product=_score(files, product_events, timestamps),
        baseline=_score(files, baseline_events, timestamps),
        run=run,
        pipeline=pipeline.name,
    )


def _score(
    files: list[LabelledFile],
    events: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]],
    timestamps: dict[str, pd.DatetimeIndex],
) -> CorpusReport:
    detections = {key: [start for start, _ in spans] for key, spans in events.items()}
    return evaluate_corpus(files, detections, events, timestamps)


def _events_by_series(
    sessions: sessionmaker[Session],
) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    result: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    with sessions() as session:
        rows = session.execute(
            select(Series.name, AnomalyEvent.start_ts, AnomalyEvent.end_ts)
            .join(Series, Series.id == AnomalyEvent.series_id)
            .order_by(Series.name, AnomalyEvent.start_ts)
        ).all()
    for name, start, end in rows:
        result.setdefault(name, []).append((pd.Timestamp(start), pd.Timestamp(end)))
    return result
