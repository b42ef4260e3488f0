"""Readings equal to a series' first one: the one test behind flat starts and constant spans."""

from __future__ import annotations

import numpy as np

# Readings closer than this (relative to the first one, at least absolute) count as equal.
RELATIVE_TOLERANCE = 1e-9


def differs_from_first(values: np.ndarray) -> np.ndarray:
    """Whether each value differs from values[0] (all False for an empty array)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    first = float(values[0])
    return np.asarray(np.abs(values - first) > RELATIVE_TOLERANCE * max(1.0, abs(first)))


def leading_run(values: np.ndarray) -> int:
    """How many values from the first are equal to it (the position of the first that differs)."""
    differs = differs_from_first(values)
    return int(np.argmax(differs)) if differs.any() else len(values)
