"""Checks on the PNG files `forecaster plot` and `forecaster demo` draw."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400, image.shape
