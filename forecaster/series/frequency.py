"""A series' sampling interval inferred from its timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd

# A daily series with no weekend points is a business-day series (markets).
_WEEKEND_DAYS = {5, 6}


def infer_frequency(index: pd.DatetimeIndex) -> str | None:
    """The series' sampling interval as a pandas offset alias, from the most common step.

    Returns None when there are fewer than three points (nothing to infer from).
    """
    if len(index) < 3:
        return None
    steps = np.diff(index.as_unit("ns").asi8)  # pandas 3 may parse to µs
    steps = steps[steps > 0]
    if len(steps) == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    step = pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")
    if step == pd.Timedelta(days=1) and not set(index.day_of_week) & _WEEKEND_DAYS:
        return "B"
    return str(pd.tseries.frequencies.to_offset(step).freqstr)
