"""`forecaster plot`'s data and drawing on real databases: a range of a series' rows read back,
drawn as a PNG and listed on an HTML page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.tables import Anomaly, AnomalyEvent, Forecast, Observation, Series
from forecaster.db.time_range import TimeRange
from pipelines.plot.data import load_plot_data
from pipelines.plot.render import Page, html_page, render_png
from tests.helpers.plots import assert_png


def _seed_plot_data(sessions: sessionmaker[Session]) -> datetime:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    with sessions.begin() as session:
        series = Series(name="pump", kind="sensor", unit="bar", frequency="h")
        session.add(series)
        session.flush()
        for k in range(48):
            ts = start + k * hour
            session.add(Observation(series_id=series.id, ts=ts, value=float(k % 5)))
            session.add(
                Forecast(
                    pipeline="p",
                    series_id=series.id,
                    issued_at=ts - hour,
                    ts=ts,
                    step=1,
                    predicted=2.0,
                    lower=1.0,
                    upper=3.0,
                )
            )
        for step in (1, 2, 3):
            issued = start + 47 * hour
            session.add(
                Forecast(
                    pipeline="p",
                    series_id=series.id,
                    issued_at=issued,
                    ts=issued + step * hour,
                    step=step,
                    predicted=2.0 + step,
                    lower=1.0,
                    upper=5.0 + step,
                )
            )
        for k, score in ((10, 0.97), (11, 0.99), (40, 0.95)):
            session.add(
                Anomaly(
                    pipeline="p",
                    series_id=series.id,
                    ts=start + k * hour,
                    observed=9.0,
                    predicted=2.0,
                    residual=7.0,
                    threshold=1.0,
                    score=score,
                    severity="high",
                    direction="up",
                )
            )
        for first, last, score in ((10, 11, 0.99), (40, 40, 0.95)):
            session.add(
                AnomalyEvent(
                    pipeline="p",
                    series_id=series.id,
                    start_ts=start + first * hour,
                    end_ts=start + last * hour,
                    peak_ts=start + last * hour,
                    peak_score=score,
                    n_points=last - first + 1,
                    direction="up",
                    severity="high",
                )
            )
    return start


def test_plot_data_reads_a_range_and_draws(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    start = _seed_plot_data(sessions)
    hour = timedelta(hours=1)
    with sessions() as session:
        everything = load_plot_data(session=session, pipeline="p", name="pump")
        part = load_plot_data(
            session=session,
            pipeline="p",
            name="pump",
            time_range=TimeRange(start=start + 11 * hour, end=start + 20 * hour),
        )
        other = load_plot_data(session=session, pipeline="other", name="pump")
    # Every stored step-1 row: one per observation, and the first step of the latest forecast.
    assert len(everything.observed) == 48 and len(everything.predictions) == 49
    assert list(everything.forecast["predicted"]) == [3.0, 4.0, 5.0]
    assert everything.forecast_issued_at == pd.Timestamp(start + 47 * hour)
    assert len(everything.anomalies) == 3 and len(everything.events) == 2
    assert list(everything.top_events(1)["peak_score"]) == [0.99]
    assert everything.unit == "bar"
    # A range keeps its points and the events overlapping it.
    assert len(part.observed) == 10 and list(part.anomalies["score"]) == [0.99]
    assert list(part.events["start_ts"]) == [pd.Timestamp(start + 10 * hour)]
    # Another pipeline's rows are not mixed in.
    assert other.anomalies.empty and other.forecast.empty and len(other.observed) == 48

    png = tmp_path / "pump.png"
    render_png(everything, png)
    assert_png(png)
    page = html_page([Page(everything, png), Page(part, None)])
    assert page.count("<img ") == 1 and "0.9900" in page and "no observations" in page
