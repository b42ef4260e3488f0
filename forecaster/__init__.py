"""forecaster: time-series anomaly detection and forecasting with Keras RNNs and SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from forecaster.config.settings import Settings
    from pipelines.api import Detection

__version__ = "0.1.0"

__all__ = ["__version__", "detect"]


def detect(
    data: pd.DataFrame | pd.Series,
    config: Settings | str | Path | None = None,
    *,
    pipeline: str | None = None,
    workdir: Path | None = None,
) -> Detection:
    """Score a pandas Series or DataFrame with the product's backfill on a scratch database:
    see `pipelines.api.detect`. Imported on first call, so `import forecaster` stays light."""
    from pipelines.api import detect as detect_frame

    return detect_frame(data, config, pipeline=pipeline, workdir=workdir)
