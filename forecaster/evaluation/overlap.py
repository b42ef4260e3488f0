"""Event-overlap precision, recall and F1 of detected events against labelled windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from forecaster.evaluation.corpus import Event, Window, to_utc


@dataclass(frozen=True)
class OverlapCounts:
    """Event-level counts: labelled windows found by some event, events touching some window.

    Zero divisions: precision is 1 with no events (no false alarm was raised), recall is 1 with
    no windows (nothing to find), F1 is 0 when precision + recall is 0. So a file with neither
    windows nor events scores 1/1/1 and, pooled, adds nothing to a total.
    """

    windows: int = 0
    windows_found: int = 0
    events: int = 0
    events_matched: int = 0

    def __add__(self, other: OverlapCounts) -> OverlapCounts:
        return OverlapCounts(
            self.windows + other.windows,
            self.windows_found + other.windows_found,
            self.events + other.events,
            self.events_matched + other.events_matched,
        )

    @property
    def false_positives(self) -> int:
        return self.events - self.events_matched

    @property
    def precision(self) -> float:
        return self.events_matched / self.events if self.events else 1.0

    @property
    def recall(self) -> float:
        return self.windows_found / self.windows if self.windows else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2.0 * p * r / (p + r) if p + r > 0.0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "windows_found": self.windows_found,
            "events": self.events,
            "events_matched": self.events_matched,
            "false_positives": self.false_positives,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def event_overlap(windows: Sequence[Window], events: Sequence[Event]) -> OverlapCounts:
    """Count windows overlapped by some event and events overlapping some window.

    Both are closed intervals [start, end] (naive times are UTC): they overlap when
    event.start ≤ window.end and event.end ≥ window.start. There is no probationary period here.
    """
    spans = [(to_utc(s), to_utc(e)) for s, e in windows]
    evs = [(to_utc(s), to_utc(e)) for s, e in events]
    for start, end in [*spans, *evs]:
        if start > end:
            raise ValueError(f"interval start {start} is after its end {end}")
    found = sum(1 for ws, we in spans if any(es <= we and ee >= ws for es, ee in evs))
    matched = sum(1 for es, ee in evs if any(es <= we and ee >= ws for ws, we in spans))
    return OverlapCounts(len(spans), found, len(evs), matched)
