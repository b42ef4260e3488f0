"""What every detection part (scorer or threshold) has: a name, its settings, its history."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from forecaster.config.strict import StrictModel


class PartSettings(StrictModel):
    """The settings of one detection part; `method` names the part in the registry."""

    method: str


def check_history_fits_window(min_history: int, window: int) -> None:
    """The settings check of a part fitted on a trailing window of errors."""
    if min_history > window:
        raise ValueError(f"min_history ({min_history}) is larger than window ({window})")


class DetectionPart(ABC):
    """A scorer or threshold: built from its settings, causal, with a declared history.

    `history` is how many positions before the first decided point a result may depend on
    when every error in them is finite: results for positions start.. are bit-identical
    for any input that holds those positions (the contract test checks it for every part).
    The read plan of a detection step asks the parts instead of hard-coding their reach.
    """

    name: ClassVar[str]
    settings_type: ClassVar[type[PartSettings]]

    @classmethod
    def from_settings(cls, settings: PartSettings) -> Self:
        """The part its settings describe (each setting is a keyword of the constructor)."""
        if not isinstance(settings, cls.settings_type):
            raise TypeError(f"{cls.__name__} takes {cls.settings_type.__name__}, not {settings!r}")
        parameters: dict[str, Any] = settings.model_dump(exclude={"method"})
        return cls(**parameters)

    @property
    @abstractmethod
    def history(self) -> int:
        """Positions before the first decided point that its results may depend on."""
