"""Robust scaling fitted on a training span."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.errors import SeriesUnusable

# IQR / 1.349 estimates the standard deviation of normal data.
_IQR_TO_SIGMA = 1.349


_RELATIVE_EPSILON = 1e-9


@dataclass(frozen=True)
class Scaler:
    """Robust scaling fitted on the training span: (x - center) / scale."""

    center: float
    scale: float

    @classmethod
    def fit(cls, values: np.ndarray, name: str = "series") -> Scaler:
        """Median and IQR-based scale; the standard deviation when the IQR is zero."""
        values = values[np.isfinite(values)]
        if len(values) == 0:
            raise SeriesUnusable(f"series {name!r} has no finite values to fit a scaler on")
        center = float(np.median(values))
        q75, q25 = np.percentile(values, [75, 25])
        scale = float(q75 - q25) / _IQR_TO_SIGMA
        tiny = _RELATIVE_EPSILON * max(1.0, abs(center))
        if scale <= tiny:
            scale = float(np.std(values))
        if scale <= tiny:
            raise SeriesUnusable(
                f"series {name!r} is constant ({center:g}) over its training span: "
                "there is nothing to learn"
            )
        return cls(center=center, scale=scale)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.center) / self.scale

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        return scaled * self.scale + self.center

    def to_dict(self) -> dict[str, float]:
        return {"center": self.center, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Scaler:
        return cls(center=float(data["center"]), scale=float(data["scale"]))
