"""Robust scaling fitted on a training span, with the clip range of the network's inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.errors import SeriesUnusable

# Quantile ranges that estimate the standard deviation of normal data, tried in this order:
# the IQR (25-75%), then wider ones for series whose middle half is one repeated value.
_SPREADS = ((25.0, 75.0, 1.349), (10.0, 90.0, 2.563), (1.0, 99.0, 4.653))
_RELATIVE_EPSILON = 1e-9
# The training span's range that the clip bounds widen (percentiles of the scaled values):
# robust to a few spikes, and still wide for skewed series whose normal bursts lie far above
# the median (CPU load, latencies).
CLIP_PERCENTILES = (1.0, 99.0)
# Clip bounds of scalers stored before they had their own (scaled units): far beyond any
# real value, only so that float32 inputs stay finite.
LEGACY_CLIP = 1e6


@dataclass(frozen=True)
class Scaler:
    """Robust scaling fitted on the training span: (x - center) / scale, and the bounds
    [low, high] (scaled units) the network's inputs and training targets are clipped to."""

    center: float
    scale: float
    low: float = -LEGACY_CLIP
    high: float = LEGACY_CLIP

    @classmethod
    def fit(cls, values: np.ndarray, name: str = "series", clip_sigmas: float = 20.0) -> Scaler:
        """Median and an IQR-based scale (wider quantile ranges when the IQR is zero, the
        standard deviation last); clip bounds `clip_sigmas` scales beyond the 1st and 99th
        percentiles of the span."""
        values = values[np.isfinite(values)]
        if len(values) == 0:
            raise SeriesUnusable(f"series {name!r} has no finite values to fit a scaler on")
        if not clip_sigmas > 0:
            raise ValueError(f"clip_sigmas must be > 0, got {clip_sigmas}")
        center = float(np.median(values))
        tiny = _RELATIVE_EPSILON * max(1.0, abs(center))
        scale = 0.0
        for low_q, high_q, to_sigma in _SPREADS:
            q_low, q_high = np.percentile(values, [low_q, high_q])
            scale = float(q_high - q_low) / to_sigma
            if scale > tiny:
                break
        else:
            scale = safe_std(values)
        if scale <= tiny:
            raise SeriesUnusable(
                f"series {name!r} is constant ({center:g}) over its training span: "
                "there is nothing to learn"
            )
        q_low, q_high = (float(q - center) / scale for q in np.percentile(values, CLIP_PERCENTILES))
        return cls(center, scale, low=q_low - clip_sigmas, high=q_high + clip_sigmas)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.center) / self.scale

    def clipped(self, values: np.ndarray) -> np.ndarray:
        """`transform(values)` clipped to [low, high]: what the network sees and learns."""
        return np.clip(self.transform(values), self.low, self.high)

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        return scaled * self.scale + self.center

    def clip_original(self, values: np.ndarray) -> np.ndarray:
        """`values` (original units) clipped to the clip range in original units."""
        bounds = self.inverse(np.array([self.low, self.high]))
        return np.clip(values, bounds[0], bounds[1])

    def to_dict(self) -> dict[str, float]:
        return {"center": self.center, "scale": self.scale, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Scaler:
        return cls(
            center=float(data["center"]),
            scale=float(data["scale"]),
            low=float(data.get("low", -LEGACY_CLIP)),
            high=float(data.get("high", LEGACY_CLIP)),
        )


def safe_std(values: np.ndarray) -> float:
    """The population standard deviation of finite values, computed on values divided by
    their largest magnitude so that squares cannot overflow (no RuntimeWarning at 1e300)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    magnitude = float(np.max(np.abs(values)))
    if magnitude == 0.0:
        return 0.0
    return float(np.std(values / magnitude)) * magnitude
