"""A shared model store at an fsspec URL (s3://, gs://, file://, …), mirrored into model_dir.

Workers on other machines (a Dask cluster) need every model version a series has. With
`model_store` set, each version is published there after it is recorded in SQL (its files
first, `meta.json` last: a version without `meta.json` is not yet a version) and fetched into
the local `model_dir`, which serves as the cache, the first time a process scores with it.
The layout under the URL is the store's own (<pipeline>/<series>/<version>/…).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from forecaster.config.validators import store_url_problem
from forecaster.errors import ConfigError, ModelArtifactError
from forecaster.model.store import META_FILE, MODEL_FILE, WEIGHTS_FILE, series_directory

# Published in this order: a reader that sees meta.json finds the weights beside it.
PUBLISHED = (WEIGHTS_FILE, MODEL_FILE, META_FILE)


def open_filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem and root path of `url`; ConfigError naming what is missing."""
    problem = store_url_problem(url)
    if problem is not None:
        raise ConfigError(f"model_store {url!r} {problem}")
    try:
        import fsspec
    except ImportError:
        raise ConfigError(
            "model_store needs fsspec: pip install 'forecaster[remote]' (and the package of "
            "your storage, such as s3fs or gcsfs)"
        ) from None
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"model_store {url!r}: {detail}") from None
    return fs, str(root).rstrip("/")


class RemoteStore:
    """Versions published to and fetched from the store at `url`, cached under `local_root`."""

    def __init__(self, url: str, local_root: Path) -> None:
        self.url = url
        self.local_root = local_root
        self.fs, self.root = open_filesystem(url)

    def _series(self, pipeline: str, series: str) -> str:
        relative = series_directory(Path("."), pipeline, series).as_posix()
        return f"{self.root}/{relative}"

    def _version(self, pipeline: str, series: str, version: int) -> str:
        return f"{self._series(pipeline, series)}/{version}"

    def versions(self, pipeline: str, series: str) -> list[int]:
        """Version numbers published for a series (those with a meta.json), ascending."""
        directory = self._series(pipeline, series)
        try:
            self.fs.invalidate_cache(directory)
            found = self.fs.glob(f"{directory}/*/{META_FILE}")
        except OSError as exc:
            raise ModelArtifactError(f"cannot list model_store {self.url}: {exc}") from None
        names = (str(path).rstrip("/").split("/")[-2] for path in found)
        return sorted(int(name) for name in names if name.isdigit())

    def publish(self, pipeline: str, series: str, version: int, directory: Path) -> None:
        """Upload a version's files from its local `directory`, meta.json last."""
        target = self._version(pipeline, series, version)
        try:
            self.fs.makedirs(target, exist_ok=True)
            for name in PUBLISHED:
                if (directory / name).exists():
                    self.fs.put_file(str(directory / name), f"{target}/{name}")
        except OSError as exc:
            raise ModelArtifactError(f"cannot publish {target} to model_store: {exc}") from None

    def fetch(self, pipeline: str, series: str, version: int) -> Path:
        """The local directory of a published version, downloaded into model_dir if it is
        not there yet (into a temporary directory, then renamed: never half a version)."""
        local = series_directory(self.local_root, pipeline, series) / str(version)
        if (local / META_FILE).exists():
            return local
        source = self._version(pipeline, series, version)
        local.parent.mkdir(parents=True, exist_ok=True)
        self.fs.invalidate_cache(source)  # a listing cached before it was published
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=local.parent))
        try:
            for name in PUBLISHED:
                if self.fs.exists(f"{source}/{name}"):
                    self.fs.get_file(f"{source}/{name}", str(staging / name))
            if not (staging / META_FILE).exists():
                raise ModelArtifactError(f"model_store holds no version {source}")
            if local.exists():  # a version directory left without its meta.json
                shutil.rmtree(local)
            os.replace(staging, local)
        except OSError as exc:
            if (local / META_FILE).exists():  # another process fetched it first
                return local
            raise ModelArtifactError(f"cannot fetch {source} from model_store: {exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return local

    def remove(self, pipeline: str, series: str, version: int) -> None:
        """Delete a published version (one another process recorded first)."""
        target = self._version(pipeline, series, version)
        try:
            if self.fs.exists(target):
                self.fs.rm(target, recursive=True)
        except OSError:
            pass  # an orphan without a model_versions row is never read
