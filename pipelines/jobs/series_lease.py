"""A backfill's lease on one series: wait while a daemon or another backfill holds it, keep it
renewed while working, give it back.

The same `series_leases` rows the daemon's replicas claim, so a backfill and a daemon (or two
backfills, or Dask tasks) never process one series at once; a process that dies leaves its
lease to expire.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from forecaster.db.repo.leases import release_leases, renew_leases, take_lease
from forecaster.db.session import transaction
from forecaster.errors import SeriesBusy
from forecaster.messages import quoted
from pipelines.context import AppContext
from pipelines.throttle import at_most_every

log = logging.getLogger(__name__)


PROCESS = re.compile(r"(?P<host>[^\s:]+):(?P<pid>\d+)$")  # how owners end: HOST:PID


@dataclass(frozen=True)
class LeaseTerms:
    """Who claims a series and for how long; how long to wait for another holder."""

    run: str  # e.g. "backfill run 7": a task of the same run takes its series back at once
    seconds: float
    wait_seconds: float
    poll_seconds: float = 1.0

    @property
    def owner(self) -> str:
        """This process's name in the lease table: the run, the host and the pid."""
        return f"{self.run} {socket.gethostname()}:{os.getpid()}"


def holder_is_gone(holder: str, terms: LeaseTerms) -> bool:
    """Whether a lease's holder can be taken over before its lease expires: a task of the same
    run (one whose worker died, rerun by Dask), or a process on this host that no longer runs
    (a backfill or daemon killed with kill -9)."""
    if holder.startswith(f"{terms.run} "):
        return True
    match = PROCESS.search(holder)
    if match is None or match["host"] != socket.gethostname():
        return False
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, owned by another user
        return False
    return False


@contextmanager
def series_lease(
    context: AppContext, pipeline: str, name: str, series_id: int, terms: LeaseTerms
) -> Iterator[Callable[[], None]]:
    """Hold the lease of series `name` (row `series_id`) while the block runs; yields the
    renewal to call after each chunk (it writes only once a third of the lease has passed).
    SeriesBusy when another holder keeps it for longer than `terms.wait_seconds`."""
    _wait_and_take(context, pipeline, series_id, name, terms)

    def renew() -> None:
        with transaction(context.sessions) as session:
            renew_leases(
                session=session,
                pipeline=pipeline,
                owner=terms.owner,
                lease_until=context.clock() + timedelta(seconds=terms.seconds),
            )

    try:
        yield at_most_every(terms.seconds / 3, renew)
    finally:
        try:
            with transaction(context.sessions) as session:
                release_leases(
                    session=session, pipeline=pipeline, series_ids=[series_id], owner=terms.owner
                )
        except Exception as exc:  # the lease expires on its own; the work's outcome stands
            log.warning("could not release the lease of series %s: %s", name, exc)


def _wait_and_take(
    context: AppContext, pipeline: str, series_id: int, name: str, terms: LeaseTerms
) -> None:
    deadline = time.monotonic() + terms.wait_seconds
    said = False
    stale: str | None = None
    while True:
        now = context.clock()
        with transaction(context.sessions) as session:
            holder = take_lease(
                session=session,
                pipeline=pipeline,
                series_id=series_id,
                owner=terms.owner,
                now=now,
                lease_until=now + timedelta(seconds=terms.seconds),
                stale_owner=stale,
            )
            held_by = None if holder is None else (holder.owner or "?", holder.lease_until)
        if held_by is None:
            return
        owner, until = held_by
        if owner != stale and holder_is_gone(owner, terms):
            log.info("series %s: taking over the lease of %s, which is gone", name, owner)
            stale = owner
            continue
        busy = (
            f"series {quoted(name)} of pipeline {quoted(pipeline)} is being processed by "
            f"{owner} (lease until {until.isoformat() if until else '?'})"
        )
        if time.monotonic() >= deadline:
            raise SeriesBusy(f"{busy}; run the backfill again once it is done (it resumes)")
        if not said:
            log.warning("%s: waiting up to %.0f s", busy, terms.wait_seconds)
            said = True
        time.sleep(terms.poll_seconds)
