"""The `series_leases` table: which daemon replica or backfill works on which series."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from forecaster.db.repo.upsert import dialect_insert
from forecaster.db.tables import (
    SeriesLease,
)

LeaseJob = Literal["detect", "retrain"]


def ensure_leases(*, session: Session, pipeline: str, series_ids: Sequence[int]) -> None:
    """Make the pipeline's lease rows exactly `series_ids`: create missing rows (existing ones
    keep their state) and drop rows of series the pipeline no longer selects."""
    session.execute(
        delete(SeriesLease).where(
            SeriesLease.pipeline == pipeline, SeriesLease.series_id.not_in(series_ids)
        )
    )
    if not series_ids:
        return
    table = SeriesLease.__table__
    insert = dialect_insert(session)(table)
    rows = [{"pipeline": pipeline, "series_id": series_id} for series_id in series_ids]
    session.execute(
        insert.on_conflict_do_nothing(index_elements=[table.c.pipeline, table.c.series_id]),
        rows,
    )


def claim_series(
    *,
    session: Session,
    pipeline: str,
    job: LeaseJob,
    cycle_at: datetime,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int = 1,
) -> list[int]:
    """Lease up to `limit` series that no live lease holds and that `job` has not done in this
    cycle, lowest ids first; [] when nothing is left to claim.

    Rows locked by another replica's claim are skipped (PostgreSQL `FOR UPDATE SKIP LOCKED`);
    the caller commits, which publishes the claim. The pipeline's lease rows are its selected
    series (see `ensure_leases`).
    """
    done_in = SeriesLease.detect_cycle if job == "detect" else SeriesLease.retrain_cycle
    candidates = (
        select(SeriesLease.series_id)
        .where(
            SeriesLease.pipeline == pipeline,
            or_(done_in.is_(None), done_in < cycle_at),
            or_(SeriesLease.lease_until.is_(None), SeriesLease.lease_until < now),
        )
        .order_by(SeriesLease.series_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = [int(series_id) for series_id in session.scalars(candidates)]
    if claimed:
        session.execute(
            update(SeriesLease)
            .where(SeriesLease.pipeline == pipeline, SeriesLease.series_id.in_(claimed))
            .values({"owner": owner, "lease_until": lease_until, done_in.key: cycle_at})
        )
    return claimed


def take_lease(
    *,
    session: Session,
    pipeline: str,
    series_id: int,
    owner: str,
    now: datetime,
    lease_until: datetime,
    stale_owner: str | None = None,
) -> SeriesLease | None:
    """Lease one series to `owner` unless another owner's lease is live (a backfill's claim:
    the cycle markers stay as they are). None when taken, else the row that holds it. A live
    lease of `stale_owner` (a holder the caller knows is gone) is taken over too.

    One conditional UPDATE: on PostgreSQL a concurrent claim waits for the row and sees the
    winner's lease; on SQLite the write lock serialises them. The caller commits.
    """
    table = SeriesLease.__table__
    owners = [owner] if stale_owner is None else [owner, stale_owner]
    session.execute(
        dialect_insert(session)(table).on_conflict_do_nothing(
            index_elements=[table.c.pipeline, table.c.series_id]
        ),
        [{"pipeline": pipeline, "series_id": series_id}],
    )
    result = session.execute(
        update(SeriesLease)
        .where(
            SeriesLease.pipeline == pipeline,
            SeriesLease.series_id == series_id,
            or_(
                SeriesLease.owner.is_(None),
                SeriesLease.owner.in_(owners),
                SeriesLease.lease_until.is_(None),
                SeriesLease.lease_until < now,
            ),
        )
        .values(owner=owner, lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    if int(result.rowcount) == 1:  # type: ignore[attr-defined]
        return None
    return session.get(SeriesLease, (pipeline, series_id), populate_existing=True)


def renew_leases(*, session: Session, pipeline: str, owner: str, lease_until: datetime) -> int:
    """Extend every lease this owner holds in a pipeline; returns how many it still holds."""
    result = session.execute(
        update(SeriesLease)
        .where(SeriesLease.pipeline == pipeline, SeriesLease.owner == owner)
        .values(lease_until=lease_until)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def release_leases(
    *, session: Session, pipeline: str, series_ids: Sequence[int], owner: str
) -> None:
    """Give series back (the cycle marker stays: they are done for this cycle)."""
    session.execute(
        update(SeriesLease)
        .where(
            SeriesLease.pipeline == pipeline,
            SeriesLease.series_id.in_(list(series_ids)),
            SeriesLease.owner == owner,
        )
        .values(owner=None, lease_until=None)
    )
