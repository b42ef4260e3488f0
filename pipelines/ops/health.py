"""The daemon's readiness: the database answers and every pipeline's detection cycles keep
finishing on schedule. (Liveness is the scheduler's: pipelines/daemon/liveness.py.)"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.engine import Engine

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.session import check_connection
from forecaster.errors import ForecasterError
from forecaster.messages import exception_summary
from pipelines.context import Clock
from pipelines.daemon.cycles import CycleReport
from pipelines.daemon.triggers import detect_trigger

TICK = timedelta(microseconds=1)


def overdue_at(trigger: BaseTrigger, finished: datetime) -> datetime | None:
    """When a pipeline whose last detection cycle finished at `finished` is overdue: at the
    second scheduled time after it, a whole scheduled cycle came and went without finishing
    (for `every: 1min`, at most two minutes after; a cron's quiet hours or weekends count as
    the cron says). None: the schedule never fires again."""
    first = trigger.get_next_fire_time(None, finished + TICK)
    if first is None:
        return None
    second: datetime | None = trigger.get_next_fire_time(first, first + TICK)
    return second


def schedule_problem(
    triggers: Mapping[str, BaseTrigger], finished: Mapping[str, datetime], now: datetime
) -> str | None:
    """Why the pipelines' detection cycles are not on schedule (`finished`: when each one's
    last cycle finished), or None when every one is."""
    for name, trigger in triggers.items():
        last = finished.get(name)
        if last is None:
            return f"pipeline {name}: no detection cycle has finished yet"
        due = overdue_at(trigger, last)
        if due is not None and now >= due:
            ago = int((now - last).total_seconds())
            return (
                f"pipeline {name}: no detection cycle finished for {ago} s (the last at "
                f"{last.isoformat(timespec='seconds')}); two scheduled cycles have passed since"
            )
    return None


class Readiness:
    """Remembers when each pipeline's last detection cycle finished; `problem()` says why the
    daemon is not ready, or None when it is."""

    def __init__(
        self,
        engine: Engine,
        pipelines: Sequence[PipelineSettings],
        *,
        clock: Clock,
        database_timeout: float = 2.0,
    ) -> None:
        self.engine = engine
        self.triggers = {p.name: detect_trigger(p) for p in pipelines}
        self.clock = clock
        self.database_timeout = database_timeout
        self._finished: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._ping: threading.Thread | None = None

    def cycle_finished(self, report: CycleReport) -> None:
        """A detection cycle that ran (even with failed series) counts; an aborted one (the
        database stayed away) does not."""
        if report.job == "detect" and report.aborted is None:
            with self._lock:
                self._finished[report.pipeline] = self.clock()

    def problem(self) -> str | None:
        return self.database_problem() or self.schedule_problem()

    def schedule_problem(self) -> str | None:
        with self._lock:
            finished = dict(self._finished)
        return schedule_problem(self.triggers, finished, self.clock())

    def database_problem(self) -> str | None:
        """`SELECT 1` within `database_timeout` seconds, in a thread of its own so that a
        server that never answers cannot hold the probe; one such thread at a time."""
        with self._lock:
            if self._ping is not None and self._ping.is_alive():
                return "database: an earlier SELECT 1 is still waiting for an answer"
            outcome: list[str] = []
            ping = threading.Thread(
                target=self._select_one, args=(outcome,), name="readyz-database", daemon=True
            )
            self._ping = ping
        ping.start()
        ping.join(self.database_timeout)
        if ping.is_alive():
            return f"database: no answer to SELECT 1 within {self.database_timeout:g} s"
        return outcome[0] if outcome else None

    def _select_one(self, outcome: list[str]) -> None:
        try:
            check_connection(self.engine)
        except ForecasterError as exc:
            outcome.append(f"database: {exc}")
        except Exception as exc:  # e.g. a driver error that is not an OperationalError
            outcome.append(f"database: {exception_summary(exc)}")
