"""What a long-running daemon remembers of each series between cycles, so a cycle reads only
the points that are new instead of the whole scoring context again."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from forecaster.model.predict import NetworkState


@dataclass(frozen=True)
class Recent:
    """A series' raw points and stored one-step predictions up to its watermark."""

    watermark: pd.Timestamp
    raw: pd.Series  # raw points as the source returned them, the last one at the watermark
    predictions: pd.Series  # one-step predictions by target time (finite ones only)
    # The network's state after the watermark's point, valid for that model version only.
    network: NetworkState | None = None
    network_version: int | None = None


class SeriesMemory:
    """Recent points per (pipeline, series id), valid only while the watermark is unchanged.

    Whoever else moves a watermark (a backfill, an operator, another replica) makes the entry
    stale: it is then ignored and the context is read from the database again. Points that
    arrive late, behind the watermark, are never scored either way; a remembered context does
    not see them.
    """

    def __init__(self) -> None:
        self._items: dict[tuple[str, int], Recent] = {}

    def recall(self, pipeline: str, series_id: int, watermark: pd.Timestamp) -> Recent | None:
        recent = self._items.get((pipeline, series_id))
        if recent is None or recent.watermark != watermark:
            return None
        return recent

    def remember(self, pipeline: str, series_id: int, recent: Recent) -> None:
        self._items[(pipeline, series_id)] = recent

    def forget(self, pipeline: str, series_id: int) -> None:
        self._items.pop((pipeline, series_id), None)

    def __len__(self) -> int:
        return len(self._items)
