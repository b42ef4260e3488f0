"""The severity label of a score."""

from __future__ import annotations

# Score bands of the `severity` column (0.990, 0.973, 0.941): z = 10, 6 and 4 for the tail
# scorer's z²/(1+z²); the likelihood scorer's Φ(z) reaches them at z = 2.3, 1.9 and 1.6.
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
