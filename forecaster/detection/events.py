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
    end_step: int | None  # grid step of end_ts, None when not known (then it is not extended)
    peak_ts: pd.Timestamp
    peak_score: float
    n_points: int
    direction: str
    start_step: int | None = None  # grid step of start_ts (None: not known, no refractory)


@dataclass(frozen=True)
class Grouping:
    """Which anomalous points share an event: those at most `merge_gap` grid steps after the
    event's previous point, and those within `refractory` grid steps of its start."""

    merge_gap: int = 10
    refractory: int = 0


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
    grouping: Grouping,
    open_event: OpenEvent | None = None,
) -> list[EventDraft]:
    """Group anomalous points (time order) into events by `grouping`. The first group extends
    `open_event` when it joins it (its start is the open event's then)."""
    groups, extends = _groups(steps, grouping, open_event)
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
    if extends and open_event is not None:
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


def _groups(
    steps: np.ndarray, grouping: Grouping, open_event: OpenEvent | None
) -> tuple[list[list[int]], bool]:
    """The points of each event, and whether the first group joins `open_event`."""
    current: tuple[int, int] | None = None  # the current event's first and last grid steps
    if open_event is not None and open_event.end_step is not None:
        first = open_event.start_step
        unknown = open_event.end_step - grouping.refractory - 1  # no refractory reach
        current = (unknown if first is None else first, open_event.end_step)
    groups: list[list[int]] = []
    extends = False
    for k, step in enumerate(steps.tolist()):
        joins = current is not None and (
            step - current[1] - 1 <= grouping.merge_gap or step - current[0] <= grouping.refractory
        )
        if joins and current is not None:
            if groups:
                groups[-1].append(k)
            else:  # the first point joins the open event
                groups.append([k])
                extends = True
            current = (current[0], step)
        else:
            groups.append([k])
            current = (step, step)
    return groups, extends
