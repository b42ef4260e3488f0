"""Output paths checked before a command starts its work: a directory where a file is wanted,
a file where a directory is wanted, or a place nobody may write is one line, not a traceback
minutes later."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from forecaster.errors import ConfigError, ForecasterError


def check_output_file(path: Path, option: str) -> None:
    """`path` can be written as a file (its missing parent directories can be created)."""
    if path.is_dir():
        raise ForecasterError(
            f"{option} {path}: is a directory; give a file name, e.g. {path / 'plot.png'}"
        )
    if path.exists():
        _probe(path, option, lambda: open(path, "ab").close())
        return
    _require_writable_directory(path.parent, option, path)


def check_output_directory(path: Path, option: str) -> None:
    """`path` is a directory that can be written, or one that can be created."""
    if path.exists() and not path.is_dir():
        raise ForecasterError(f"{option} {path}: exists and is not a directory")
    _require_writable_directory(path, option, path)


def check_model_dir(path: Path) -> None:
    """The model store's root can hold new model versions (ConfigError naming model_dir)."""
    try:
        check_output_directory(path, "model_dir")
    except ForecasterError as exc:
        raise ConfigError(f"{exc} (set model_dir in the config or FORECASTER_MODEL_DIR)") from None


def _require_writable_directory(directory: Path, option: str, wanted: Path) -> None:
    """The nearest existing ancestor of `directory` (itself included) is a directory in which
    files can be created."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ForecasterError(f"{option} {wanted}: {existing} is not a directory")

    def create_one() -> None:
        with tempfile.TemporaryFile(dir=existing):
            pass

    _probe(existing, option, create_one, wanted)


def _probe(
    path: Path, option: str, attempt: Callable[[], None], wanted: Path | None = None
) -> None:
    """Run `attempt` (write to `path`, or create a file in it when it is the directory of
    `wanted`); an OSError becomes one line naming the option and the paths."""
    what = (
        f"{wanted}: cannot create files in {path}"
        if wanted is not None
        else f"{path}: cannot write it"
    )
    try:
        attempt()
    except OSError as exc:
        raise ForecasterError(f"{option} {what}: {exc.strerror or type(exc).__name__}") from None
    if not os.access(path, os.W_OK):
        raise ForecasterError(f"{option} {what}: permission denied")
