"""`forecaster evaluate`: backfill a labelled NAB-format corpus in a scratch database, score it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.pipeline import PipelineSettings
from forecaster.config.settings import Settings
from forecaster.db import migrate
from forecaster.db.tables import AnomalyEvent, Series
from forecaster.errors import ForecasterError
from forecaster.evaluation.baseline import rolling_sigma_events
from forecaster.evaluation.corpus import LabelledFile, load_corpus, read_nab_series
from forecaster.evaluation.report import CorpusReport, evaluate_corpus
from forecaster.io.files import ReadOptions
from pipelines.context import AppContext, open_context
from pipelines.detect.run import ProgressCallback, SeriesReport
from pipelines.jobs.backfill import RunResult, run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from pipelines.jobs.redetect import redetect
from pipelines.scratch import clear_scratch, scratch_dir, scratch_settings

DATABASE_FILE = "evaluate.db"
STAMP_FILE = "evaluate.json"  # what the kept predictions were made from
# Pipeline settings the stored one-step predictions do not depend on.
NOT_IN_PREDICTIONS = {"detection", "name", "schedule", "source", "series"}


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
    workdir: Path | None = None,
    reuse_predictions: bool = False,
) -> Evaluation:
    """Ingest every labelled file into a scratch SQLite database, backfill it with the
    pipeline's settings (never tuned per file) and score event starts as detections. The
    scratch database and models live in `workdir` when given (kept), else in a temporary
    directory (removed). With `reuse_predictions`, the one-step predictions an earlier
    evaluate kept in `workdir` are decided again with the current detection settings
    (`redetect`): seconds instead of minutes, for the same rows a backfill would write."""
    files = load_corpus(data_dir, labels)
    pipeline = settings.pipeline(pipeline_name)
    if reuse_predictions and workdir is None:
        raise ForecasterError("--reuse-predictions needs --workdir: where an evaluate kept them")
    with scratch_dir(workdir, prefix="forecaster-evaluate-") as root:
        stamp = _stamp(pipeline, files)
        if reuse_predictions:
            _check_reusable(root, stamp)
        else:
            _clear(root)
        context = open_context(
            scratch_settings(settings, pipeline.name, root, database=DATABASE_FILE),
            require_schema=False,
        )
        try:
            migrate.upgrade(context.engine)  # kept predictions may predate the schema
            if reuse_predictions:
                run = redetect(
                    context, pipeline.name, names=[f.key for f in files], on_done=on_done
                )
            else:
                run = _backfill(context, pipeline, files, on_series, on_done)
                (root / STAMP_FILE).write_text(json.dumps(stamp, indent=2) + "\n")
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


def _backfill(
    context: AppContext,
    pipeline: PipelineSettings,
    files: list[LabelledFile],
    on_series: Callable[[str, int], ProgressCallback] | None,
    on_done: Callable[[SeriesReport], None] | None,
) -> RunResult:
    """Load every file into the (migrated) scratch database and backfill it."""
    for f in files:
        # NAB files repeat a few timestamps (clock changes): keep the last, as ingest does.
        ingest_file(context, IngestRequest(path=f.path, series=f.key, read=ReadOptions()))
    return run_pipeline(
        context,
        pipeline.name,
        kind="evaluate",
        names=[f.key for f in files],
        on_series=on_series,
        on_done=on_done,
    )


def _stamp(pipeline: PipelineSettings, files: list[LabelledFile]) -> dict[str, Any]:
    """What the stored predictions depend on: the files and every setting but detection."""
    return {
        "files": {f.key: f.path.stat().st_size for f in files},
        "settings": pipeline.model_dump(
            mode="json", exclude={"detection", "name", "schedule", "source", "series"}
        ),
    }


def _check_reusable(root: Path, stamp: dict[str, Any]) -> None:
    """Refuse predictions made from other files or with other model settings."""
    path = root / STAMP_FILE
    if not path.is_file() or not (root / DATABASE_FILE).is_file():
        raise ForecasterError(
            f"--reuse-predictions: {root} holds no finished evaluate (run it once without "
            "--reuse-predictions and the same --workdir)"
        )
    kept = json.loads(path.read_text())
    if kept.get("files") != stamp["files"]:
        raise ForecasterError(
            f"--reuse-predictions: the predictions in {root} were made from other data files"
        )
    if kept.get("settings") != stamp["settings"]:
        changed = sorted(
            key
            for key in {*stamp["settings"], *kept.get("settings", {})}
            if stamp["settings"].get(key) != kept.get("settings", {}).get(key)
        )
        raise ForecasterError(
            f"--reuse-predictions: the predictions in {root} were made with other settings "
            f"({', '.join(changed)} changed); only detection settings may differ"
        )


def _clear(root: Path) -> None:
    """Remove what an earlier evaluate left in `root` (a fresh evaluate starts from nothing)."""
    (root / STAMP_FILE).unlink(missing_ok=True)
    clear_scratch(root, database=DATABASE_FILE)


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
