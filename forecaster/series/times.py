"""Timestamps at the edges: naive times localised, everything converted to UTC."""

from __future__ import annotations

import pandas as pd


def ensure_utc_index(index: pd.DatetimeIndex, timezone: str = "UTC") -> pd.DatetimeIndex:
    """Localise naive times to `timezone` (then convert) or convert aware times to UTC."""
    if index.tz is None:
        index = index.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    return index.tz_convert("UTC")
