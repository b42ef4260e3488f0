"""What runs beside the daemon's scheduler (metrics, notifications): started and stopped with
it and told of every finished cycle, so the engine itself knows nothing of them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pipelines.daemon.cycles import CycleReport

log = logging.getLogger(__name__)


class Companion(Protocol):
    """A part of the daemon beside its jobs; each call must return quickly and not raise."""

    def start(self) -> None:
        """Begin (e.g. listen on a port, start a sender thread) before the first cycle."""

    def cycle_finished(self, report: CycleReport) -> None:
        """A detection or retraining cycle ended (its rows are committed)."""

    def stop(self) -> None:
        """End after the scheduler stopped: finish or hand back the work in hand."""


class Companions:
    """Several companions as one; a companion that raises is logged, never the daemon's end."""

    def __init__(self, members: Sequence[Companion] = ()) -> None:
        self.members = list(members)

    def start(self) -> None:
        for member in self.members:
            member.start()  # a port in use must stop the daemon at once, with its message

    def cycle_finished(self, report: CycleReport) -> None:
        for member in self.members:
            try:
                member.cycle_finished(report)
            except Exception:  # a metrics or notification bug must not stop detection
                log.exception("%s failed after a cycle", type(member).__name__)

    def stop(self) -> None:
        for member in reversed(self.members):
            try:
                member.stop()
            except Exception:
                log.exception("%s failed to stop", type(member).__name__)
