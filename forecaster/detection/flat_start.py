"""A flat start that moves: before a series' first model, the first reading that leaves the
constant the series began with is an anomaly (a flat-lined sensor coming alive is news); pure."""

from __future__ import annotations

import numpy as np

from forecaster.detection.decide import Decisions
from forecaster.series.constant import leading_run

# The score of a departure from a flat start: certain, nothing else explains it.
DEPARTURE_SCORE = 1.0


def flat_departures(
    values: np.ndarray, observed: np.ndarray, positions: np.ndarray, *, min_run: int
) -> Decisions | None:
    """Decisions for `positions` of a span that starts at the series' first point: the first
    observed point after a leading run of at least `min_run` identical readings is anomalous,
    with the constant as its forecast. None when the series has no such flat start."""
    run = leading_run(values)
    if run < min_run:
        return None
    first = float(values[0])
    after = np.flatnonzero(observed[run:])
    departure = run + int(after[0]) if len(after) else -1
    residual = values[positions] - first
    anomalous = positions == departure
    score = np.where(anomalous, DEPARTURE_SCORE, np.nan)
    return Decisions(
        positions=positions,
        predicted=np.full(len(positions), first),
        residual=residual,
        threshold=np.zeros(len(positions)),
        score=score,
        anomalous=anomalous,
        direction=np.where(residual >= 0, "high", "low"),
        rule=np.where(anomalous, "flat_start", ""),
        signals=np.where(anomalous, "flat_start", ""),
    )
