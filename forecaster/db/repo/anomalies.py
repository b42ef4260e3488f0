"""The `anomalies` table: one row per anomalous point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from forecaster.db.repo.upsert import upsert_rows
from forecaster.db.tables import (
    Anomaly,
)


def upsert_anomalies(*, session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or replace anomaly rows keyed by (pipeline, series_id, ts); returns the count."""
    return upsert_rows(session, Anomaly.__table__, ("pipeline", "series_id", "ts"), rows)
