"""One pipeline's settings on a scratch SQLite database and model directory, in a scratch dir."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from forecaster.config.database import DatabaseSettings
from forecaster.config.settings import Settings
from forecaster.errors import ForecasterError

SCRATCH_DATABASE = "scratch.db"
SCRATCH_MODELS = "models"


def scratch_settings(
    settings: Settings,
    pipeline: str | None,
    root: Path,
    *,
    database: str = SCRATCH_DATABASE,
    models: str = SCRATCH_MODELS,
) -> Settings:
    """`settings` with only the pipeline called `pipeline` (the first when None), reading the
    service's own observations table (its `source:` dropped), on the SQLite file
    `root/<database>` and the model store `root/<models>` (no shared `model_store`). Everything
    else is kept as it is, so the scratch run scores exactly as that pipeline would."""
    chosen = settings.pipeline(pipeline)
    return settings.model_copy(
        update={
            "database": DatabaseSettings(url=f"sqlite:///{root / database}"),
            "model_dir": root / models,
            "model_store": None,  # a scratch run shares no models
            "pipelines": [chosen.model_copy(update={"source": None})],
        }
    )


def clear_scratch(root: Path, *, database: str, models: str = SCRATCH_MODELS) -> None:
    """Remove the SQLite database (and its journal files) and the model store an earlier
    scratch run left in `root`: a new run there starts from nothing."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        (root / f"{database}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(root / models, ignore_errors=True)


@contextmanager
def scratch_dir(workdir: Path | None, *, prefix: str = "forecaster-") -> Iterator[Path]:
    """`workdir` (created if needed, kept afterwards), or a temporary directory removed
    afterwards."""
    if workdir is not None:
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ForecasterError(f"{workdir}: cannot create it: {exc.strerror}") from None
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        yield Path(scratch)
