"""Typed, validated settings of smoothing, scorer, threshold, the other rules and events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Discriminator, Field, Tag, model_validator

from forecaster.config.strict import StrictModel
from forecaster.detection.extreme import ExtremeSettings
from forecaster.detection.parts import DetectionPart, PartSettings
from forecaster.detection.range import RangeSettings
from forecaster.detection.registry import SCORERS, THRESHOLDS
from forecaster.detection.scores.likelihood import LikelihoodSettings
from forecaster.detection.seasonal import SeasonalSettings
from forecaster.detection.shift import ShiftSettings
from forecaster.detection.stuck import StuckSettings
from forecaster.detection.thresholds.dynamic import DynamicSettings

DEFAULT_SCORER = "likelihood"
DEFAULT_THRESHOLD = "dynamic"
# Keys of the tail scorer that earlier configs gave flat in `detection:`.
_FLAT_SCORER_KEYS = {"score_window": "window", "score_min_history": "min_history"}


def choice_of(parts: Sequence[type[DetectionPart]], default: str) -> Any:
    """The settings of one of `parts`, told apart by `method` (`default` when it is left out):
    a pydantic discriminated union, so each method accepts its own keys only."""

    def method_of(value: Any) -> str | None:
        if isinstance(value, dict):
            return str(value.get("method", default))
        return getattr(value, "method", None)

    tagged = tuple(Annotated[part.settings_type, Tag(part.name)] for part in parts)
    known = ", ".join(part.name for part in parts)
    discriminator = Discriminator(
        method_of,
        custom_error_type="unknown_method",
        custom_error_message=f"unknown method (known: {known})",
    )
    return Annotated[Union[tagged], discriminator]  # noqa: UP007 (built at runtime)


# The sections whose settings depend on their method, and the methods each accepts.
METHOD_SECTIONS = {
    "scorer": {part.name for part in SCORERS},
    "threshold": {part.name for part in THRESHOLDS},
}

if TYPE_CHECKING:
    ScorerChoice = PartSettings
    ThresholdChoice = PartSettings
else:
    ScorerChoice = choice_of(SCORERS, DEFAULT_SCORER)
    ThresholdChoice = choice_of(THRESHOLDS, DEFAULT_THRESHOLD)


class DetectionSettings(StrictModel):
    """How forecast errors become anomaly scores, decisions and events."""

    smoothing_span: int = Field(
        default=20, ge=1, description="EWMA span of the error smoothing (alpha = 2/(span+1))."
    )
    smoothing_length: int = Field(
        default=100,
        ge=1,
        description="Length of the truncated EWMA kernel: a smoothed error depends on this "
        "many points exactly (100 keeps all but 0.005% of the weight of span 20).",
    )
    scorer: ScorerChoice = Field(
        default_factory=LikelihoodSettings,
        description="How unusual a smoothed error is, in [0, 1]: the `score` column of "
        "forecast-rule rows (likelihood: the normal CDF of the recent errors' mean against "
        "their long history; tail: Cantelli's bound on one error against its window).",
    )
    threshold: ThresholdChoice = Field(
        default_factory=DynamicSettings,
        description="Which smoothed errors are anomalous (dynamic, static or robust).",
    )
    merge_gap: int = Field(
        default=10,
        ge=0,
        description="Anomalous points separated by at most this many non-anomalous grid "
        "steps belong to one event (and so do those within `refractory` of its start).",
    )
    min_score: float = Field(
        default=0.97,
        ge=0.0,
        le=1.0,
        description="Points scoring below this are not reported even when over the threshold "
        "(the dynamic threshold alone flags small runs even in pure noise). With the "
        "likelihood scorer 0.97 is a recent mean 1.9 sigma above the long history's; with the "
        "tail scorer, z = 5.7 (score = z²/(1+z²)). The other rules score from it upwards.",
    )
    min_error: float = Field(
        default=2.0,
        ge=0.0,
        description="A forecast-rule point's own error must also reach this multiple of the "
        "model's validation RMSE: an error the model makes routinely is no anomaly, however "
        "quiet the recent errors were (0: no such floor; no floor either without a usable "
        "RMSE).",
    )
    extreme: ExtremeSettings = Field(
        default_factory=ExtremeSettings,
        description="Residuals beyond a large multiple of the model's validation RMSE are "
        "anomalous where the forecast rule cannot judge yet (a series' first scored points).",
    )
    stuck: StuckSettings = Field(
        default_factory=StuckSettings,
        description="A reading repeated much longer than this series' usual runs is anomalous.",
    )
    range: RangeSettings = Field(
        default_factory=RangeSettings,
        description="A reading outside the widened range of the recent readings is anomalous.",
    )
    shift: ShiftSettings = Field(
        default_factory=ShiftSettings,
        description="A sustained move of the recent readings' mean far from the longer "
        "history's level is anomalous (off by default).",
    )
    seasonal: SeasonalSettings = Field(
        default_factory=SeasonalSettings,
        description="A forecast error no larger than the one a season earlier is forgiven.",
    )
    refractory: int = Field(
        default=100,
        ge=0,
        description="Grid steps after an event's start in which no new event starts: "
        "anomalous points there join it (one alarm per incident).",
    )

    @model_validator(mode="before")
    @classmethod
    def _flat_scorer_keys(cls, data: Any) -> Any:
        """Accept `score_window` and `score_min_history` (earlier configs) as the tail
        scorer's `window` and `min_history`."""
        if not isinstance(data, dict) or not _FLAT_SCORER_KEYS.keys() & data.keys():
            return data
        if "scorer" in data:
            flat = ", ".join(sorted(_FLAT_SCORER_KEYS.keys() & data.keys()))
            raise ValueError(f"give {flat} inside scorer (as window, min_history), not beside it")
        data = dict(data)
        scorer = {"method": "tail"}  # the flat keys were the tail scorer's
        for flat, key in _FLAT_SCORER_KEYS.items():
            if flat in data:
                scorer[key] = data.pop(flat)
        data["scorer"] = scorer
        return data
