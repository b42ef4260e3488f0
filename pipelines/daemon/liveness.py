"""Whether the daemon's scheduler is alive: `run_forever` attaches its scheduler, probes ask."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler


class SchedulerWatch:
    """The scheduler of a running daemon, for the health check; safe to ask from any thread."""

    def __init__(self) -> None:
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()

    def attach(self, scheduler: BackgroundScheduler) -> None:
        with self._lock:
            self._scheduler = scheduler

    def detach(self) -> None:
        with self._lock:
            self._scheduler = None

    def alive(self) -> bool:
        """The scheduler was started, is not shut down, and its main-loop thread runs."""
        with self._lock:
            scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            return False
        # APScheduler 3 has no public accessor for its main-loop thread; `_thread` is the
        # attribute BackgroundScheduler.start sets (a thread that died stops firing jobs).
        thread = getattr(scheduler, "_thread", None)
        return isinstance(thread, threading.Thread) and thread.is_alive()
