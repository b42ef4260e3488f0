"""Anomalous points grouped into events, extending the last stored one; pure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.detection.severity import severity_of


@dataclass(frozen=True)
class OpenEvent:
    """The last stored event of a series, which new anomalies may extend."""

    start_ts: pd.Timestamp
    end_ts: pd.Timestamp
    end_step: int | None  # grid step of end_ts, None when it is outside the span read
    peak_ts: pd.Timestamp
    peak_score: float
    n_points: int
    direction: str


@dataclass(frozen=True)
class EventDraft:
    """An event to upsert, keyed by its start time."""

    start_ts: pd.Timestamp
    end_ts: pd.Timestamp
    peak_ts: pd.Timestamp
    peak_score: float
    n_points: int
    direction: str

    @property
    def severity(self) -> str:
        return severity_of(self.peak_score)


def group_events(
    times: pd.DatetimeIndex,
    steps: np.ndarray,
    scores: np.ndarray,
    directions: np.ndarray,
    *,
    merge_gap: int,
    open_event: OpenEvent | None = None,
) -> list[EventDraft]:
    """Group anomalous points (time order) into events; points at most `merge_gap` grid steps
    apart share one. The first group extends `open_event` when it is close enough to it."""
    groups: list[list[int]] = []
    for k in range(len(steps)):
        if groups and steps[k] - steps[groups[-1][-1]] - 1 <= merge_gap:
            groups[-1].append(k)
        else:
            groups.append([k])
    drafts = []
    for members in groups:
        peak = max(members, key=lambda k: (scores[k], -k))
        drafts.append(
            EventDraft(
                start_ts=times[members[0]],
                end_ts=times[members[-1]],
                peak_ts=times[peak],
                peak_score=float(scores[peak]),
                n_points=len(members),
                direction=str(directions[peak]),
            )
        )
    if drafts and open_event is not None and open_event.end_step is not None:
        gap = int(steps[groups[0][0]]) - open_event.end_step - 1
        if gap <= merge_gap:
            first = drafts[0]
            better = first.peak_score > open_event.peak_score
            drafts[0] = EventDraft(
                start_ts=open_event.start_ts,
                end_ts=first.end_ts,
                peak_ts=first.peak_ts if better else open_event.peak_ts,
                peak_score=first.peak_score if better else open_event.peak_score,
                n_points=open_event.n_points + first.n_points,
                direction=first.direction if better else open_event.direction,
            )
    return drafts
