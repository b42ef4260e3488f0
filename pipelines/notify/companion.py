"""The daemon's notification sender: a thread beside the scheduler that delivers the outbox
after every cycle and on its own timer for retries."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from forecaster.messages import exception_summary
from pipelines.notify.sender import Sender, drain

if TYPE_CHECKING:
    from pipelines.daemon.cycles import CycleReport

log = logging.getLogger(__name__)


class NotifyCompanion:
    """Wakes on each finished cycle (its rows are committed), at the next retry's time, or
    every `poll_seconds`; `stop` lets the POST in hand finish (then, with
    `final_drain_seconds`, sends what is due for that long). What is not acknowledged stays
    in the outbox for the next start."""

    def __init__(
        self, sender: Sender, *, poll_seconds: float, final_drain_seconds: float = 0.0
    ) -> None:
        self.sender = sender
        self.poll_seconds = poll_seconds
        self.final_drain_seconds = final_drain_seconds  # `daemon --once`: send before exiting
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="notify-sender", daemon=True)
        self.thread.start()

    def cycle_finished(self, report: CycleReport) -> None:
        self.wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            longest = max((s.timeout_seconds for s in self.sender.settings.sinks), default=0.0)
            self.thread.join(timeout=longest + 10)
        if self.final_drain_seconds > 0:
            try:
                drain(self.sender, self.final_drain_seconds, time.monotonic)
            except Exception as exc:  # the database is away: the outbox keeps them
                log.warning("notification sender: %s", exception_summary(exc))

    def _run(self) -> None:
        while not self.stopping.is_set():
            due: datetime | None = None
            try:
                self.sender.deliver_due(should_stop=self.stopping.is_set)
                due = self.sender.next_due()
            except Exception as exc:  # the database is away: the next wake tries again
                log.warning("notification sender: %s", exception_summary(exc))
            self.wake.wait(self._wait(due))
            self.wake.clear()

    def _wait(self, due: datetime | None) -> float:
        """Seconds until the next retry is due, at most `poll_seconds`."""
        if due is None:
            return self.poll_seconds
        seconds = (due - self.sender.clock()).total_seconds()
        return min(max(seconds, 0.05), self.poll_seconds)
