"""A replica's claims on a pipeline's series: take a few, renew while working, give them back.

Replicas on one PostgreSQL database share the series through `series_leases` (`SELECT … FOR
UPDATE SKIP LOCKED`); a series is taken at most once per scheduled cycle, and a replica that
dies releases its series when its lease expires.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.leases import LeaseJob, claim_series, ensure_leases, release_leases
from forecaster.db.repo.leases import renew_leases as renew_rows
from forecaster.db.repo.series import ensure_series_ids
from forecaster.db.session import transaction
from pipelines.context import AppContext, Clock
from pipelines.selection import select_series
from pipelines.throttle import at_most_every


class Leases:
    """One replica's leases on one pipeline's series (each call its own short transaction)."""

    def __init__(
        self,
        context: AppContext,
        pipeline: PipelineSettings,
        *,
        owner: str,
        clock: Clock,
        lease_seconds: float,
    ) -> None:
        self.context = context
        self.pipeline = pipeline
        self.owner = owner
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds)

    def prepare(self) -> dict[int, str]:
        """The pipeline's selected series by id, each with a row and a lease row."""
        with transaction(self.context.sessions) as session:
            names = select_series(self.context, session, self.pipeline, ())
            by_name = ensure_series_ids(session=session, names=names)
            ids = {series_id: name for name, series_id in by_name.items()}
            ensure_leases(session=session, pipeline=self.pipeline.name, series_ids=list(ids))
        return ids

    def claim(self, job: LeaseJob, cycle_at: datetime, limit: int) -> list[int]:
        """Up to `limit` series that no live lease holds and `job` has not done this cycle."""
        now = self.clock()
        with transaction(self.context.sessions) as session:
            return claim_series(
                session=session,
                pipeline=self.pipeline.name,
                job=job,
                cycle_at=cycle_at,
                owner=self.owner,
                now=now,
                lease_until=now + self.lease,
                limit=limit,
            )

    def release(self, series_ids: list[int]) -> None:
        """Give series back (they stay done for this cycle)."""
        with transaction(self.context.sessions) as session:
            release_leases(
                session=session,
                pipeline=self.pipeline.name,
                series_ids=series_ids,
                owner=self.owner,
            )

    def renewer(self) -> Callable[[], None]:
        """Extends this replica's leases (the series in hand and the ones claimed after it)
        when called, once a third of the lease time has passed since the last renewal."""

        def renew() -> None:
            with transaction(self.context.sessions) as session:
                renew_rows(
                    session=session,
                    pipeline=self.pipeline.name,
                    owner=self.owner,
                    lease_until=self.clock() + self.lease,
                )

        return at_most_every(self.lease.total_seconds() / 3, renew)
