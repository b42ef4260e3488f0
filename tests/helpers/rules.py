"""Inputs of a rule beside the forecast rule, built from a short list of readings."""

from __future__ import annotations

import numpy as np

from forecaster.detection.rules import RuleInputs


def rule_inputs(values: list[float], start: int, observed: list[bool] | None = None) -> RuleInputs:
    """Readings on consecutive grid steps, every point with a prediction (residual 0), the
    forecast rule deciding everywhere, validation RMSE 1 and min_score 0.9."""
    x = np.asarray(values, dtype=float)
    seen = np.ones(x.size, bool) if observed is None else np.asarray(observed)
    return RuleInputs(
        values=x,
        observed=seen,
        steps=np.arange(x.size, dtype=np.int64),
        start=start,
        residual=np.zeros(x.size - start),
        undecided=np.zeros(x.size - start, bool),
        reference_scale=1.0,
        min_score=0.9,
    )
