"""A shared model store (`model_store`): a backfill continued from another machine's model_dir
finds the versions trained elsewhere in the store and writes the rows of one backfill."""

from __future__ import annotations

from pathlib import Path

import yaml

from forecaster.config.loading import load_config
from forecaster.model.store import list_versions
from pipelines.context import AppContext, open_context
from pipelines.jobs.backfill import run_pipeline
from tests.helpers.pipelines import load_rows
from tests.helpers.series import TINY_PIPELINE, clear_results, snapshot, write_series


def machine(url: str, directory: Path, store: str | None) -> AppContext:
    """A context as one machine of a cluster has it: its own model_dir, the shared store."""
    directory.mkdir()
    config = {"database": {"url": url}, "model_dir": "models", "pipelines": [TINY_PIPELINE]}
    if store is not None:
        config["model_store"] = store
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return open_context(load_config(path, env={}))


def backfill(context: AppContext, csv: Path | None = None, rows: slice | None = None) -> None:
    try:
        if csv is not None and rows is not None:
            load_rows(context, csv, "s", rows)
        assert not run_pipeline(context, None, kind="backfill").failed
    finally:
        context.close()


def test_a_backfill_continued_elsewhere_uses_the_shared_versions(
    db_url: str, tmp_path: Path
) -> None:
    csv = tmp_path / "s.csv"
    write_series(csv)
    store = (tmp_path / "shared").as_uri()
    backfill(machine(db_url, tmp_path / "m1", store), csv, slice(0, 900))
    trained_on_1 = list_versions(tmp_path / "m1" / "models", "default", "s")
    assert trained_on_1  # machine 1 trained the first versions and published them
    backfill(machine(db_url, tmp_path / "m2", store), csv, slice(900, None))
    split = snapshot(db_url)
    fetched = list_versions(tmp_path / "m2" / "models", "default", "s")
    # Machine 2 went on with machine 1's newest version, fetched from the store, not trained.
    assert trained_on_1[-1] in fetched and fetched[0] == trained_on_1[-1]
    shared = list_versions(tmp_path / "shared", "default", "s")
    assert shared == sorted({*trained_on_1, *fetched}) == [row[0] for row in split["models"]]
    clear_results(db_url, tmp_path / "unused")
    backfill(machine(db_url, tmp_path / "alone", None))  # one backfill, its own models only
    assert split == snapshot(db_url)
