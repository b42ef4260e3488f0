"""Regularizing a series onto its grid: short gaps are filled, not split into segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.series.regular import regularize


def test_short_gaps_are_filled_not_split() -> None:
    index = pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC")
    raw = pd.Series(np.arange(10.0), index=index).drop(index[[3, 4]])
    series = regularize(raw, None, 3)
    assert len(series) == 10 and series.segment_starts.sum() == 1
    assert not series.observed[3] and series.values[3] == pytest.approx(3.0)
