"""The shared model store: versions published to an fsspec URL and fetched into model_dir."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from forecaster.errors import ConfigError, ModelArtifactError
from forecaster.model.remote import RemoteStore, open_filesystem
from forecaster.model.store import META_FILE, WEIGHTS_FILE, series_directory


def version_dir(root: Path, version: int) -> Path:
    """A stand-in version directory (the store's files; their content does not matter here)."""
    directory = series_directory(root, "p", "cpu/host 1") / str(version)
    directory.mkdir(parents=True)
    (directory / WEIGHTS_FILE).write_bytes(b"weights %d" % version)
    (directory / META_FILE).write_text(json.dumps({"version": version}))
    return directory


def test_published_versions_are_listed_and_fetched_whole(tmp_path: Path) -> None:
    url = f"memory://forecaster-test-{uuid.uuid4().hex}/models"
    writer = RemoteStore(url, tmp_path / "writer")
    assert writer.versions("p", "cpu/host 1") == []
    for version in (1, 2, 10):
        writer.publish("p", "cpu/host 1", version, version_dir(tmp_path / "writer", version))
    reader = RemoteStore(url, tmp_path / "reader")
    assert reader.versions("p", "cpu/host 1") == [1, 2, 10]
    fetched = reader.fetch("p", "cpu/host 1", 2)
    assert fetched == series_directory(tmp_path / "reader", "p", "cpu/host 1") / "2"
    assert (fetched / WEIGHTS_FILE).read_bytes() == b"weights 2"
    assert reader.fetch("p", "cpu/host 1", 2) == fetched  # cached: read locally
    reader.remove("p", "cpu/host 1", 10)
    assert reader.versions("p", "cpu/host 1") == [1, 2]
    with pytest.raises(ModelArtifactError, match="no version"):
        reader.fetch("p", "cpu/host 1", 10)
    assert not (fetched.parent / "10").exists()  # nothing half-fetched is left


def test_a_version_without_its_meta_file_is_not_a_version(tmp_path: Path) -> None:
    url = f"memory://forecaster-test-{uuid.uuid4().hex}"
    store = RemoteStore(url, tmp_path)
    directory = version_dir(tmp_path / "local", 1)
    (directory / META_FILE).unlink()  # a publish cut off before its last file
    store.publish("p", "cpu/host 1", 1, directory)
    assert store.versions("p", "cpu/host 1") == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("models/shared", "is not a URL"),
        ("nosuchprotocol://bucket/models", "nosuchprotocol"),
    ],
)
def test_a_store_url_that_cannot_be_opened_is_a_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_filesystem(url)
