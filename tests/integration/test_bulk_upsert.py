"""The bulk upsert (COPY + merge on PostgreSQL, a prepared executemany on SQLite) against rows
written through the ORM: same keys meet, insert-only columns stay, the last repeat wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.repo.forecasts import upsert_forecast_rows
from forecaster.db.repo.upsert import upsert_columns, upsert_rows
from forecaster.db.session import transaction
from forecaster.db.tables import Anomaly, Forecast, Series

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)


def _series(session: Session) -> int:
    series = Series(name="bulk")
    session.add(series)  # pending: the bulk write must flush it first (foreign key)
    session.flush()
    return series.id


def _forecast(series_id: int, minute: int, predicted: float) -> dict[str, object]:
    return {
        "pipeline": "p",
        "series_id": series_id,
        "issued_at": T0,
        "ts": T0 + timedelta(minutes=minute),
        "step": 1,
        "predicted": predicted,
        "observed": None,
        "lower": None,
        "upper": predicted + 1.0,
        "model_version_id": None,
    }


def _anomaly(series_id: int) -> dict[str, object]:
    return {
        "pipeline": "p",
        "series_id": series_id,
        "ts": T0,
        "observed": 5.0,
        "predicted": 1.0,
        "residual": 4.0,
        "threshold": 2.0,
        "score": 0.5,
        "severity": "low",
        "direction": "high",
        "model_version_id": None,
        "run_id": None,
        "detected_at": T0,
        "rule": "forecast",
        "signals": "forecast",
    }


def test_bulk_rows_meet_orm_rows_on_their_key(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        series_id = _series(session)
        session.add(
            Forecast(
                **{**_forecast(series_id, 0, 1.0), "ts": T0 + timedelta(microseconds=250)},
                created_at=T0,
            )
        )
    rows = [_forecast(series_id, 0, 2.0), _forecast(series_id, 1, 3.0)]
    rows[0]["ts"] = T0 + timedelta(microseconds=250)  # the ORM row's key, microseconds kept
    with transaction(sessions) as session:
        assert upsert_forecast_rows(session=session, rows=rows, now=LATER) == 2
    with transaction(sessions) as session:
        stored = session.scalars(select(Forecast).order_by(Forecast.ts)).all()
        assert [(f.ts, f.predicted, f.upper, f.created_at) for f in stored] == [
            (T0 + timedelta(microseconds=250), 2.0, 3.0, T0),  # updated; created_at kept
            (T0 + timedelta(minutes=1), 3.0, 4.0, LATER),
        ]
        assert all(f.ts.tzinfo is not None for f in stored)


def test_repeated_keys_keep_the_last_and_rollback_writes_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        series_id = _series(session)
    anomaly = _anomaly(series_id)
    keys = ("pipeline", "series_id", "ts")
    with transaction(sessions) as session:
        upsert_rows(session, Anomaly.__table__, keys, [anomaly, {**anomaly, "score": 0.9}])
    try:
        with transaction(sessions) as session:
            upsert_rows(session, Anomaly.__table__, keys, [{**anomaly, "score": 0.1}])
            raise RuntimeError("abort the transaction")
    except RuntimeError:
        pass
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Anomaly)) == 1
        assert session.scalar(select(Anomaly.score)) == 0.9


def test_column_sets_of_one_length_share_a_transaction(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        series_id = _series(session)
    first = {k: v for k, v in _forecast(series_id, 0, 1.0).items() if k != "lower"}
    second = {k: v for k, v in _forecast(series_id, 1, 2.0).items() if k != "upper"}
    keys = ("pipeline", "series_id", "issued_at", "ts")
    with transaction(sessions) as session:  # PostgreSQL stages both in one temporary table
        upsert_rows(session, Forecast.__table__, keys, [{**first, "created_at": T0}])
        upsert_rows(session, Forecast.__table__, keys, [{**second, "created_at": T0}])
    with transaction(sessions) as session:
        stored = session.execute(select(Forecast.predicted, Forecast.upper).order_by(Forecast.ts))
        assert [tuple(r) for r in stored] == [(1.0, 2.0), (2.0, None)]


def test_time_columns_of_every_kind_are_stored_as_the_same_instants(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        series_id = _series(session)
    paris = timezone(timedelta(hours=2))
    times = pd.date_range(T0, periods=3, freq="5min")  # a DatetimeIndex in UTC
    keys = ("pipeline", "series_id", "issued_at", "ts")
    block = {
        "pipeline": "p",
        "series_id": series_id,
        "issued_at": T0.astimezone(paris),  # one time for every row, in another offset
        "ts": times,
        "step": [1, 2, 3],
        "predicted": np.array([1.0, 2.0, 3.0]),
        "created_at": LATER,
    }
    listed = {**block, "ts": [t.to_pydatetime() + timedelta(hours=1) for t in times]}
    with transaction(sessions) as session:
        upsert_columns(session, Forecast.__table__, keys, [block, listed])
    with transaction(sessions) as session:
        stored = session.execute(
            select(Forecast.issued_at, Forecast.ts, Forecast.created_at).order_by(Forecast.ts)
        ).all()
    assert [r.ts for r in stored] == [*times, *(times + timedelta(hours=1))]
    assert {r.issued_at for r in stored} == {T0} and {r.created_at for r in stored} == {LATER}
    naive = {**block, "ts": [datetime(2024, 3, 1, 12, 0)] * 3}
    with pytest.raises(ValueError, match="naive datetime in ts"), transaction(sessions) as session:
        upsert_columns(session, Forecast.__table__, keys, [naive])


def test_values_that_need_care_in_a_copy_or_a_prepared_statement_come_back_exactly(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        series_id = _series(session)
        postgres = session.get_bind().dialect.name == "postgresql"
    floats = [0.1 + 0.2, 1e-300, 5e-324, -0.0, 123456789.123456789, 7]  # 7: an int, stored
    if postgres:  # SQLite stores NaN as NULL; PostgreSQL keeps every special value
        floats += [float("nan"), float("inf"), float("-inf")]
    texts = ["tab\there", "line\nbreak", "back\\slash", r"\N", "", "crlf\r\n", "ünï"]
    n = len(floats)
    block = {
        **_anomaly(series_id),
        "ts": pd.date_range(T0, periods=n, freq="5min"),
        "observed": floats,
        "rule": (texts * 2)[:n],
        "signals": ([None, *texts] * 2)[:n],
    }
    with transaction(sessions) as session:
        upsert_columns(session, Anomaly.__table__, ("pipeline", "series_id", "ts"), [block])
    with transaction(sessions) as session:
        stored = session.execute(
            select(Anomaly.observed, Anomaly.residual, Anomaly.rule, Anomaly.signals).order_by(
                Anomaly.ts
            )
        ).all()
    got = [r.observed for r in stored]
    assert np.array_equal(np.array(got), np.array(floats, dtype=float), equal_nan=True)
    assert [r.rule for r in stored] == block["rule"]
    assert [r.signals for r in stored] == block["signals"]
