"""The example SQL in the README runs on both databases and answers what it claims."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.tables import Anomaly, AnomalyEvent, Forecast, Observation, Series
from tests.helpers.paths import REPO_ROOT

SQLITE_VARIANT = re.compile(r"^(\s*\w+)\s.*--\s*SQLite:\s*(.+)$")


def readme_queries() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Example queries", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


def for_dialect(query: str, dialect: str) -> str:
    """PostgreSQL text as written; for SQLite, lines with a `-- SQLite:` variant use it."""
    lines = []
    for line in query.splitlines():
        match = SQLITE_VARIANT.match(line)
        if match and dialect == "sqlite":
            line = f"{match.group(1)} {match.group(2)}"
        elif match:
            line = line.split("--")[0]
        lines.append(line)
    return "\n".join(lines)


def seed(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with sessions.begin() as session:
        vix = Series(name="vix", kind="stock")
        session.add(vix)
        session.flush()
        for hours, score in ((2, 0.97), (30, 0.99), (24 * 10, 0.999)):
            ts = now - timedelta(hours=hours)
            session.add(Observation(series_id=vix.id, ts=ts, value=30.0))
            session.add(
                Forecast(
                    pipeline="default",
                    series_id=vix.id,
                    issued_at=ts - timedelta(hours=1),
                    ts=ts,
                    step=1,
                    predicted=20.0,
                    observed=30.0,
                    lower=15.0,
                    upper=25.0,
                )
            )
            session.add(
                Anomaly(
                    pipeline="default",
                    series_id=vix.id,
                    ts=ts,
                    observed=30.0,
                    predicted=20.0,
                    residual=10.0,
                    threshold=5.0,
                    score=score,
                    severity="high",
                    direction="up",
                    rule="forecast",
                    signals="forecast,range" if score == 0.97 else "forecast",
                )
            )
            session.add(
                AnomalyEvent(
                    pipeline="default",
                    series_id=vix.id,
                    start_ts=ts,
                    end_ts=ts,
                    peak_ts=ts,
                    peak_score=score,
                    n_points=1,
                    direction="up",
                    severity="high",
                )
            )


def test_readme_queries_run_and_answer(engine: Engine, sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    queries = readme_queries()
    assert len(queries) == 5
    results = []
    with engine.connect() as connection:
        for query in queries:
            results.append(connection.execute(text(for_dialect(query, engine.dialect.name))).all())
    last_day, last_week, observed_vs_forecast, why, spans = results
    assert [row.score for row in last_day] == [0.97]
    assert [(row.name, row.events) for row in last_week] == [("vix", 2)]
    assert len(observed_vs_forecast) == 3
    assert {(row.observed, row.predicted) for row in observed_vs_forecast} == {(30.0, 20.0)}
    assert [(row.name, row.points) for row in spans] == [("vix", 3)]
    # The last week's anomalies (2 h and 30 h ago) by rule and signals: one row each.
    assert {(row.rule, row.signals, row.points) for row in why} == {
        ("forecast", "forecast,range", 1),
        ("forecast", "forecast", 1),
    }
