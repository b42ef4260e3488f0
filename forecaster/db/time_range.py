"""A span of time for reads: open or bounded, start inclusive or exclusive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TimeRange:
    """A span of time; `start` inclusive unless `start_exclusive`, `end` inclusive. None = open."""

    start: datetime | None = None
    end: datetime | None = None
    start_exclusive: bool = False

    @classmethod
    def after(cls, ts: datetime | None, end: datetime | None = None) -> TimeRange:
        """Everything strictly after `ts` (a watermark) up to `end`."""
        return cls(start=ts, end=end, start_exclusive=True)

    def filter(self, statement: Any, column: Any) -> Any:
        """Add this range's bounds to a select on `column`."""
        conditions = self.conditions(column)
        return statement.where(*conditions) if conditions else statement

    def conditions(self, column: Any) -> list[Any]:
        """This range's bounds on `column` as SQL conditions (none when it is unbounded)."""
        conditions = []
        if self.start is not None:
            conditions.append(column > self.start if self.start_exclusive else column >= self.start)
        if self.end is not None:
            conditions.append(column <= self.end)
        return conditions
