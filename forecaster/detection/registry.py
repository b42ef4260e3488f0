"""Every threshold by name, built from its settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from forecaster.detection.thresholds.base import Threshold
from forecaster.detection.thresholds.dynamic import DynamicThreshold
from forecaster.detection.thresholds.robust import RobustThreshold
from forecaster.detection.thresholds.static import StaticThreshold

if TYPE_CHECKING:
    from forecaster.config.detection import ThresholdSettings


THRESHOLDS: dict[str, type[Threshold]] = {
    cls.name: cls for cls in (DynamicThreshold, StaticThreshold, RobustThreshold)
}


def make_threshold(settings: ThresholdSettings) -> Threshold:
    """The threshold `settings.method` names, built from the matching settings."""
    if settings.method == "dynamic":
        return DynamicThreshold(
            window=settings.window,
            refit_every=settings.refit_every,
            min_history=settings.min_history,
            z_min=settings.z_min,
            z_max=settings.z_max,
            z_step=settings.z_step,
            prune=settings.prune,
        )
    if settings.method == "robust":
        return RobustThreshold(
            window=settings.window,
            refit_every=settings.refit_every,
            min_history=settings.min_history,
            k=settings.k_robust,
        )
    if settings.method == "static":
        return StaticThreshold(k=settings.k_static)
    known = ", ".join(sorted(THRESHOLDS))
    raise ValueError(f"unknown threshold method {settings.method!r} (known: {known})")
