"""Database steps retried with backoff while the database is unreachable, within a budget."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from forecaster.db.session import display_url
from forecaster.errors import DatabaseError

log = logging.getLogger(__name__)

T = TypeVar("T")
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 10.0
# Words of the driver's message that mark an outage worth waiting out.
_OUTAGE_HINTS = (
    "connect",
    "connection",
    "server closed",
    "terminating",
    "locked",
    "timeout",
    "could not receive",
    "shutting down",
    "starting up",
    "recovery mode",
)


class DatabaseUnavailable(DatabaseError):
    """The database stayed unreachable for longer than the retry budget of a cycle."""


class Retrying:
    """Runs database steps, retrying with exponential backoff while the database is
    unreachable, for at most `budget_s` per step; a stop request ends the waiting;
    `on_retry` hears the reason of every retry (the daemon's metrics count them)."""

    def __init__(
        self,
        url: str,
        budget_s: float,
        stop: threading.Event,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.budget_s = budget_s
        self.stop = stop
        self.on_retry = on_retry

    def __call__(self, step: Callable[[], T]) -> T:
        deadline = time.monotonic() + self.budget_s
        delay = FIRST_DELAY_S
        while True:
            try:
                return step()
            except (OperationalError, DatabaseError) as exc:
                if isinstance(exc, DatabaseUnavailable):
                    raise
                if isinstance(exc, DBAPIError) and not is_outage(exc):
                    raise
                remaining = deadline - time.monotonic()
                reason = first_line(exc)
                if remaining <= 0 or self.stop.is_set():
                    raise DatabaseUnavailable(
                        f"database {display_url(self.url)} unreachable: {reason}"
                    ) from None
                log.warning("database problem (%s); retrying in %.1f s", reason, delay)
                if self.on_retry is not None:
                    self.on_retry(reason)
                self.stop.wait(min(delay, remaining))
                delay = min(delay * 2, MAX_DELAY_S)


def is_outage(exc: DBAPIError) -> bool:
    """Operational errors worth waiting out: lost or refused connections, a locked SQLite file."""
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(hint in text for hint in _OUTAGE_HINTS)


def first_line(exc: BaseException) -> str:
    """The first line of the driver's message (or the exception's)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
