"""`forecaster train` and `forecaster forecast` as subprocesses on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from tests.helpers.cli import run_cli
from tests.helpers.databases import BACKENDS, PostgresServer

TINY_CONFIG = """\
database:
  url: sqlite:///forecaster.db
model_dir: models
pipelines:
  - name: default
    model: {units: 8, window: 16, horizon: 3, epochs: 3, max_train_samples: 64}
"""


@pytest.fixture(params=BACKENDS)
def workdir(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str | None]:
    (tmp_path / "config.yaml").write_text(TINY_CONFIG)
    n = 400
    index = pd.date_range("2024-03-01", periods=n, freq="15min")
    values = 5 + np.sin(np.arange(n) * 2 * np.pi / 96) + np.random.default_rng(0).normal(0, 0.1, n)
    pd.DataFrame({"timestamp": index, "value": values}).to_csv(tmp_path / "s.csv", index=False)
    url = None
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("pg_server")
        url = server.create_database("models")
    run_cli("db", "upgrade", cwd=tmp_path, db_url=url)
    run_cli("ingest", "s.csv", "--series", "room 1", cwd=tmp_path, db_url=url)
    return tmp_path, url


def test_train_forecast_and_fall_back_on_a_corrupt_artifact(
    workdir: tuple[Path, str | None],
) -> None:
    cwd, url = workdir
    trained = run_cli("train", "--series", "room 1", "--until", "2024-03-04", cwd=cwd, db_url=url)
    assert "version 1 stored" in trained.stdout
    assert "2024-03-04T00:00:00+00:00" in trained.stdout  # nothing after --until was used
    artifact = cwd / "models" / "default" / "room%201" / "1"
    assert all((artifact / f).is_file() for f in ("weights.npz", "model.keras", "meta.json"))
    # TensorFlow's start-up noise stays hidden without --verbose.
    assert "oneDNN" not in trained.stderr and "cuda" not in trained.stderr.lower()

    first = run_cli("forecast", "--series", "room 1", cwd=cwd, db_url=url)
    assert "by model version 1" in first.stdout and "3 row(s) written" in first.stdout
    assert "2024-03-05T03:45:00+00:00" in first.stdout  # the step after the last point

    (artifact / "weights.npz").write_bytes(b"garbage")
    second = run_cli("forecast", "--series", "room 1", cwd=cwd, db_url=url)
    assert "trained version 2 first: stored model unusable" in second.stdout

    engine = create_engine(url or f"sqlite:///{cwd / 'forecaster.db'}")
    with engine.connect() as connection:
        versions = connection.execute(
            text("SELECT version, trained_to FROM model_versions ORDER BY version")
        ).all()
        forecasts = connection.execute(
            text(
                "SELECT count(*), count(DISTINCT issued_at), min(step), max(step), "
                "max(model_version_id) FROM forecasts"
            )
        ).one()
    engine.dispose()
    assert [v for v, _ in versions] == [1, 2]
    # Rewriting the same issue time replaces rows; the newest model's id is on them.
    assert tuple(forecasts[:4]) == (3, 1, 1, 3)


def test_train_errors_are_clear(workdir: tuple[Path, str | None]) -> None:
    cwd, url = workdir
    missing = run_cli("train", "--series", "nope", cwd=cwd, db_url=url, check=False)
    assert missing.returncode == 1 and "no series named 'nope'" in missing.stderr
    short = run_cli(
        "train",
        "--series",
        "room 1",
        "--until",
        "2024-03-01 03:00",
        cwd=cwd,
        db_url=url,
        check=False,
    )
    assert short.returncode == 1 and "too short to train on" in short.stderr
    bad = run_cli("train", "--series", "room 1", "--until", "soon", cwd=cwd, check=False)
    assert bad.returncode == 1 and "--until: cannot read 'soon'" in bad.stderr
