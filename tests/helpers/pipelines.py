"""Contexts on migrated test databases, observations fed in batches, reference backfills."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from forecaster.config.loading import load_config
from forecaster.db import migrate
from pipelines.context import AppContext, open_context
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from tests.helpers.series import write_config


def load_rows(context: AppContext, path: Path, series: str, rows: slice) -> None:
    """Append part of a CSV to a series, as a producer writing new observations would."""
    frame = pd.read_csv(path).iloc[rows]
    part = path.with_name(f"{path.stem}-{rows.start}-{rows.stop}.csv")
    frame.to_csv(part, index=False)
    ingest_file(context, IngestRequest(path=part, series=series))


def migrated(url: str, directory: Path, **pipeline: Any) -> AppContext:
    """A context on `url`, migrated, with the tiny pipeline (`pipeline` overrides its keys)."""
    directory.mkdir(exist_ok=True)
    settings = load_config(write_config(directory, url, **pipeline))
    context = open_context(settings, require_schema=False)
    migrate.upgrade(context.engine)
    return context


def backfill_reference(url: str, tmp_path: Path, names: str | list[str] = "s") -> None:
    """The rows one uninterrupted backfill writes, in database `url`, of series `names`, each
    read from tmp_path/<name>.csv (by default one series: s)."""
    reference = migrated(url, tmp_path / "reference")
    try:
        for name in names if isinstance(names, list) else [names]:
            ingest_file(reference, IngestRequest(path=tmp_path / f"{name}.csv", series=name))
        assert not run_pipeline(reference, None, kind="backfill").failed
    finally:
        reference.close()
