"""The Grafana dashboard (dashboards/grafana/forecaster.json) cannot rot: every panel,
annotation and variable query runs on PostgreSQL with Grafana's macros expanded, as a role that
may only read, over rows the product wrote (a backfill, a daemon cycle, failing series), and
answers with the columns its panel needs; lag and failing series agree with `forecaster status`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from pipelines.daemon.cycles import Cycles
from pipelines.jobs.backfill import run_pipeline
from pipelines.jobs.ingest import IngestRequest, ingest_file
from pipelines.jobs.status import pipeline_status
from tests.helpers.databases import PostgresServer
from tests.helpers.grafana import DashboardQuery, dashboard_queries, expand_macros, interpolate
from tests.helpers.paths import REPO_ROOT
from tests.helpers.pipelines import load_rows, migrated
from tests.helpers.several import write_three

DASHBOARD = REPO_ROOT / "dashboards" / "grafana" / "forecaster.json"
# The series are in May 2024 and runs carry the wall clock: the range spans both.
START = datetime(2024, 4, 30, tzinfo=UTC)
VARIABLES = {"pipeline": "default", "series": "alpha", "__interval": "1h"}
BUILT_IN = {"__interval", "__timeFilter", "__timeFrom", "__timeTo", "__timeGroupAlias"}
SPIKE = pd.Timestamp("2024-05-01", tz="UTC") + 400 * pd.Timedelta("15min")  # alpha's spike
SCORED, LATE = 650, 50  # alpha's points scored, and arrived after the daemon's cycle
SEVERITIES = {"low", "medium", "high", "critical"}
# The columns each query answers with, by where it is: a new panel, target or variable fails
# the coverage test until it is listed here, and so is run below.
COLUMNS = {
    "panel 'Events in range' A": ["events"],
    "panel 'Anomalous points in range' A": ["anomalous points"],
    "panel 'Worst lag' A": ["worst lag"],
    "panel 'Last run' A": ["status", "job", "started"],
    "panel 'Observed vs one-step forecast: $series' A": [
        "time",
        "observed",
        "forecast",
        "band low",
        "band high",
    ],
    "panel 'Observed vs one-step forecast: $series' B": ["time", "forecast ahead"],
    "panel 'Observed vs one-step forecast: $series' C": ["time", "anomaly"],
    "panel 'Anomalous points by severity' A": ["time", "metric", "points"],
    "panel 'Top anomalous series' A": [
        "series",
        "events",
        "anomalous points",
        "worst peak score",
        "last anomaly",
    ],
    "panel 'Events' A": [
        "series",
        "start",
        "end",
        "severity",
        "direction",
        "peak score",
        "peak at",
        "points",
    ],
    "panel 'Lag behind the newest observation' A": [
        "series",
        "watermark",
        "newest observation",
        "lag",
    ],
    "panel 'Failing series' A": ["series", "error", "failed at", "job", "run"],
    "panel 'Runs with problems' A": [
        "started",
        "finished",
        "job",
        "status",
        "series",
        "failed",
        "error",
    ],
    "annotation 'Events of the series'": ["time", "timeend", "text", "tags"],
    "variable 'pipeline'": ["pipeline"],
    "variable 'series'": ["name"],
}


def readme_grants() -> list[str]:
    """The tables the README's Grafana role may read: the test's role gets exactly those."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Grafana dashboard", 1)[1].split("\n### ", 1)[0]
    match = re.search(r"GRANT SELECT ON ([\w,\s]+?) TO grafana_reader;", section)
    assert match, "README, Grafana dashboard: the role's GRANT SELECT statement is missing"
    return [name.strip() for name in match.group(1).split(",")]


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return dashboard


def queries() -> dict[str, DashboardQuery]:
    return {q.where: q for q in dashboard_queries(load_dashboard())}


# --- the JSON alone -----------------------------------------------------------------------


def test_every_panel_has_a_query_and_every_query_is_tested() -> None:
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] >= 39
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_POSTGRES"]
    # A collapsed row holds its panels; a row itself has no query.
    tops = dashboard["panels"]
    panels = [p for p in tops if p["type"] != "row"] + [
        c for p in tops for c in p.get("panels", [])
    ]
    titles = [p["title"] for p in panels]
    assert len(set(titles)) == len(titles) and len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in [*panel["targets"], panel]:
            assert target["datasource"]["uid"] == "${DS_POSTGRES}", panel["title"]
        for target in panel["targets"]:
            assert target["rawSql"].strip() and target["format"] in ("table", "time_series")
    found = queries()
    assert len(found) == len(dashboard_queries(dashboard))  # no two queries share a name
    assert set(found) == set(COLUMNS)
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for query in found.values():
        used = set(re.findall(r"\$\{?(\w+)", query.sql))
        assert used <= variables | BUILT_IN, (query.where, used - variables - BUILT_IN)


def test_macros_expand_as_grafanas_postgres_data_source_does() -> None:
    # Expected strings from Grafana's own tests of the macro engine (macros_test.go).
    start = datetime(2018, 4, 12, 18, tzinfo=UTC)
    end = start + timedelta(minutes=5)
    cases = {
        "select $__time(time_column)": 'select time_column AS "time"',
        "WHERE $__timeFilter(time_column)": "WHERE time_column BETWEEN "
        "'2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        "select $__timeFrom()": "select '2018-04-12T18:00:00Z'",
        "select $__timeTo()": "select '2018-04-12T18:05:00Z'",
        "SELECT $__timeGroup(time_column,'5m')": "SELECT floor(extract(epoch from "
        "time_column)/300)*300",
        "$__timeGroupAlias(time_column , '5m')": "floor(extract(epoch from time_column)/300)"
        '*300 AS "time"',
        "SELECT $__timeGroup(time_column,'5m'), value": "SELECT floor(extract(epoch from "
        'time_column)/300)*300 AS "time", value',
    }
    for sql, expanded in cases.items():
        assert expand_macros(sql, start, end) == expanded
    half = datetime(1960, 2, 1, 7, 0, 0, 500000, tzinfo=UTC)
    assert expand_macros("$__timeFrom()", half, end) == "'1960-02-01T07:00:00.5Z'"
    with pytest.raises(ValueError, match="unknown macro '__nope'"):
        expand_macros("$__nope(x)", start, end)
    quoted = interpolate("s.name = '$series' AND ${pipeline}", {"series": "o'k", "pipeline": "p"})
    assert quoted == "s.name = 'o''k' AND p"


# --- the product's rows -------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    """A database the product wrote, and what `forecaster status` says of it."""

    url: str
    end: datetime  # the end of the dashboard's time range
    lags: dict[str, float | None]  # seconds, per series with a watermark
    errors: dict[str, str]  # per failing series


def write_hourly(path: Path, *, broken: bool) -> None:
    """400 hourly points of a weekly pattern; `broken`: one value too large to compute with."""
    values = [5.0 + (i % 7) for i in range(400)]
    if broken:
        values[150] = 1e200
    index = pd.date_range("2024-05-01", periods=len(values), freq="h")
    pd.DataFrame({"timestamp": index, "value": values}).to_csv(path, index=False)


def produce(url: str, work: Path) -> Product:
    """Backfill history, then one daemon cycle, with a series that stays broken and one that
    is fixed (re-ingested) in between; more of alpha arrives after the cycle (its lag)."""
    alpha = write_three(work)[0]
    for name in ("broken", "fixed"):
        write_hourly(work / f"{name}.csv", broken=True)
    context = migrated(url, work / "run")
    try:
        load_rows(context, alpha, "alpha", slice(0, 600))
        for name in ("broken", "fixed"):
            ingest_file(context, IngestRequest(path=work / f"{name}.csv", series=name))
        backfill = run_pipeline(context, None, kind="backfill")
        assert sorted(r.series for r in backfill.failed) == ["broken", "fixed"]
        write_hourly(work / "fixed.csv", broken=False)
        ingest_file(context, IngestRequest(path=work / "fixed.csv", series="fixed"))
        load_rows(context, alpha, "alpha", slice(600, SCORED))
        cycle = Cycles(context).detect("default", context.clock())
        assert set(cycle.errors) == {"broken"}
        load_rows(context, alpha, "alpha", slice(SCORED, SCORED + LATE))
        # A later run of another series (with nothing new to score) hides no error.
        assert not run_pipeline(context, None, kind="backfill", names=["fixed"]).failed
        [status] = pipeline_status(context)
    finally:
        context.close()
    return Product(
        url=url,
        end=datetime.now(UTC) + timedelta(days=1),
        lags={
            s.series: None if s.lag is None else s.lag.total_seconds()
            for s in status.series
            if s.watermark is not None
        },
        errors={s.series: s.error for s in status.series if s.error is not None},
    )


@pytest.fixture(scope="module")
def product(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Product:
    url = pg_server.create_database("dashboard")
    return produce(url, tmp_path_factory.mktemp("dashboard"))


@pytest.fixture(scope="module")
def reader(product: Product, pg_server: PostgresServer) -> Iterator[str]:
    """A role that may read what the README's Grafana role may read, and nothing else."""
    role = f"grafana_reader_{pg_server.run_id}"
    engine = create_engine(product.url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        connection.execute(text(f'GRANT SELECT ON {", ".join(readme_grants())} TO "{role}"'))
    try:
        yield role
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
        engine.dispose()


@dataclass(frozen=True)
class Answer:
    """A query's column names and rows."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def column(self, name: str) -> list[Any]:
        k = self.columns.index(name)
        return [row[k] for row in self.rows]


@pytest.fixture(scope="module")
def answers(product: Product, reader: str) -> dict[str, Answer]:
    """Every query's answer, sent as Grafana sends it, run as the read-only role."""
    engine = create_engine(product.url)
    result = {}
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(f'SET ROLE "{reader}"')
            for where, query in queries().items():
                sql = expand_macros(interpolate(query.sql, VARIABLES), START, product.end)
                assert "$" not in sql, (where, sql)
                cursor.execute(sql)  # no parameters: the text runs exactly as written
                columns = [d.name for d in cursor.description or []]
                result[where] = Answer(columns, [tuple(r) for r in cursor.fetchall()])
        finally:
            connection.close()
    finally:
        engine.dispose()
    return result


# --- every query ----------------------------------------------------------------------------


@pytest.mark.postgresql
@pytest.mark.parametrize("where", sorted(COLUMNS))
def test_each_query_answers_with_the_columns_its_panel_needs(
    answers: dict[str, Answer], where: str
) -> None:
    answer, query = answers[where], queries()[where]
    assert answer.columns == COLUMNS[where]
    if query.format == "time_series":
        # Grafana needs a time column, sorted, and numbers beside it (a `metric` names them).
        times = [
            t.timestamp() if isinstance(t, datetime) else float(t) for t in answer.column("time")
        ]
        assert times == sorted(times)
        for name in set(answer.columns) - {"time", "metric"}:
            assert all(
                v is None or isinstance(v, float | int | Decimal) for v in answer.column(name)
            )


# --- what the key panels show -----------------------------------------------------------------


def near_spike(times: list[Any]) -> bool:
    return any(abs(pd.Timestamp(t) - SPIKE) <= pd.Timedelta("1h") for t in times)


@pytest.mark.postgresql
def test_observed_forecast_band_and_anomalies_of_the_series(answers: dict[str, Answer]) -> None:
    scored = answers["panel 'Observed vs one-step forecast: $series' A"]
    assert len(scored.rows) >= (SCORED - 200) // 4  # hourly groups of 15-minute points
    for _, observed, forecast, low, high in scored.rows:
        assert observed is not None and low <= forecast <= high
    ahead = answers["panel 'Observed vs one-step forecast: $series' B"]
    newest = pd.Timestamp("2024-05-01", tz="UTC") + (SCORED - 1) * pd.Timedelta("15min")
    assert len(ahead.rows) == 3 and all(pd.Timestamp(t) > newest for t in ahead.column("time"))
    anomalies = answers["panel 'Observed vs one-step forecast: $series' C"]
    assert near_spike(anomalies.column("time"))
    per_interval = answers["panel 'Anomalous points by severity' A"]
    assert set(per_interval.column("metric")) <= SEVERITIES
    assert (
        sum(per_interval.column("points"))
        == answers["panel 'Anomalous points in range' A"].rows[0][0]
    )


@pytest.mark.postgresql
def test_events_as_regions_in_a_table_and_per_series(answers: dict[str, Answer]) -> None:
    regions = answers["annotation 'Events of the series'"]
    assert near_spike(regions.column("time"))
    for start, end, label, tags in regions.rows:
        assert end >= start and re.match(r"\w+ event on alpha, (above|below) the forecast", label)
        severity, direction = tags.split(",")
        assert severity.removeprefix("severity:") in SEVERITIES
        assert direction in ("direction:high", "direction:low")
    events = answers["panel 'Events' A"]
    assert len(events.rows) == answers["panel 'Events in range' A"].rows[0][0] > 0
    assert set(events.column("severity")) <= SEVERITIES
    top = answers["panel 'Top anomalous series' A"]
    assert top.rows[0][0] == "alpha" and top.rows[0][1] == len(regions.rows)


@pytest.mark.postgresql
def test_lag_and_failing_series_agree_with_status(
    answers: dict[str, Answer], product: Product
) -> None:
    lag = answers["panel 'Lag behind the newest observation' A"]
    shown = {row[0]: None if row[3] is None else float(row[3]) for row in lag.rows}
    assert shown == product.lags and shown["alpha"] == LATE * 15 * 60
    assert float(answers["panel 'Worst lag' A"].rows[0][0]) == LATE * 15 * 60
    failing = answers["panel 'Failing series' A"]
    # The fixed series failed in the backfill and was processed since: not failing any more.
    assert dict(zip(failing.column("series"), failing.column("error"), strict=True)) == (
        product.errors
    )
    assert list(product.errors) == ["broken"] and "too large" in product.errors["broken"]
    problems = answers["panel 'Runs with problems' A"]
    assert problems.column("job") == ["daemon-detect", "backfill"]
    assert set(problems.column("status")) == {"partial"}
    assert answers["panel 'Last run' A"].rows[0][:2] == ("ok", "backfill")


@pytest.mark.postgresql
def test_variables_offer_the_pipelines_and_their_scored_series(answers: dict[str, Answer]) -> None:
    assert answers["variable 'pipeline'"].rows == [("default",)]
    assert answers["variable 'series'"].rows == [("alpha",), ("fixed",)]
