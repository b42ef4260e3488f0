"""The severity label of a score."""

from __future__ import annotations

# Score bands of the `severity` column: score = z² / (1 + z²), so these are 10, 6 and 4
# standard deviations of the recent smoothed errors.
SEVERITY_LEVELS: tuple[tuple[str, float], ...] = (
    ("critical", 100 / 101),
    ("high", 36 / 37),
    ("medium", 16 / 17),
    ("low", 0.0),
)


def severity_of(score: float) -> str:
    """The severity label of a score in [0, 1]."""
    for label, floor in SEVERITY_LEVELS:
        if score >= floor:
            return label
    return "low"
