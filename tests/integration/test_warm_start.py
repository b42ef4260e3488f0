"""Walk-forward retraining starts from the previous cut-off's weights for retrain_epochs, when
that model saw enough of the new span and kept its network."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from forecaster.db.session import transaction
from forecaster.db.tables import ModelVersion
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from tests.helpers.pipelines import migrated
from tests.helpers.series import TINY_PIPELINE, write_series


def _fits(
    url: str, tmp_path: Path, training: dict[str, object], **model: object
) -> list[tuple[bool, int]]:
    """(warm_start, epochs) of each walk-forward model a backfill trains, oldest first."""
    write_series(tmp_path / "s.csv")
    context = migrated(
        url,
        tmp_path / "run",
        training={**TINY_PIPELINE["training"], **training},
        model={**TINY_PIPELINE["model"], **model},
    )
    try:
        ingest_file(context, IngestRequest(path=tmp_path / "s.csv", series="s"))
        assert not run_pipeline(context, None, kind="backfill").failed
        with transaction(context.sessions) as session:
            metrics = session.scalars(select(ModelVersion.metrics).order_by(ModelVersion.version))
            return [(m["warm_start"], m["epochs"]) for m in metrics]
    finally:
        context.close()


def test_retrainings_start_warm_and_train_fewer_epochs(db_url: str, tmp_path: Path) -> None:
    fits = _fits(db_url, tmp_path, {"retrain_epochs": 1, "warm_min_share": 0.0})
    assert len(fits) == 3  # cut-offs at steps 200, 600 and 1000 of 1,300
    assert fits[0] == (False, fits[0][1]) and 1 <= fits[0][1] <= TINY_PIPELINE["model"]["epochs"]
    assert fits[1:] == [(True, 1), (True, 1)]


def test_no_warm_start_from_a_much_shorter_history(db_url: str, tmp_path: Path) -> None:
    # The model of cut-off 200 saw a third of the 600 points the next one trains on; that one
    # saw 60% of the 1,000 after it (the default share is a half).
    fits = _fits(db_url, tmp_path, {"retrain_epochs": 1})
    assert [warm for warm, _ in fits] == [False, False, True]
    assert fits[2][1] == 1


def test_no_warm_start_from_a_fallen_back_model(db_url: str, tmp_path: Path) -> None:
    # A fallback ratio this small replaces every network by the last value.
    fits = _fits(db_url, tmp_path, {"retrain_epochs": 1}, persistence_fallback=1e-9)
    assert [warm for warm, _ in fits] == [False, False, False]


def test_retrain_epochs_null_trains_every_model_from_scratch(db_url: str, tmp_path: Path) -> None:
    fits = _fits(db_url, tmp_path, {"retrain_epochs": None})
    assert [warm for warm, _ in fits] == [False, False, False]
