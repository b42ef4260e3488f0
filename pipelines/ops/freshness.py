"""Lag, model age and failing series as Prometheus metrics, read from the database when
Prometheus scrapes (through `forecaster status`'s own queries), cached for a few seconds.

Why at scrape time rather than after each cycle: a daemon whose cycles stopped (a wedged
worker, a database that keeps failing) would otherwise export the last values forever, while
read now the lag keeps growing as observations arrive and an alert fires; the cost (a few
queries per series) is paid only when someone scrapes, in the HTTP thread, never by the
detection worker; other replicas' work is seen too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.metrics_core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from forecaster.messages import exception_summary
from pipelines.context import AppContext, Clock
from pipelines.jobs.status import PipelineStatus, pipeline_status

log = logging.getLogger(__name__)

# Lag buckets: caught up (0), within a cycle or a sampling interval, up to a week behind.
LAG_BUCKETS = (0.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0, 7 * 86400.0)


@dataclass(frozen=True)
class SeriesFreshness:
    """One series as the metrics see it (seconds; None when not known yet)."""

    series: str
    lag: float | None
    model_age: float | None
    failing: bool


def freshness(status: PipelineStatus, now_ts: float) -> list[SeriesFreshness]:
    """Each series' lag behind its newest observation, its model's age and whether it fails."""
    return [
        SeriesFreshness(
            series=s.series,
            lag=s.lag.total_seconds() if s.lag is not None else None,
            model_age=(
                max(now_ts - s.model_trained_at.timestamp(), 0.0)
                if s.model_trained_at is not None
                else None
            ),
            failing=s.error is not None,
        )
        for s in status.series
    ]


def pipeline_families(
    snapshot: dict[str, list[SeriesFreshness]], *, series_labels: bool
) -> list[Metric]:
    """The metric families of a snapshot (pipeline -> its series)."""
    selected = GaugeMetricFamily(
        "forecaster_series_selected", "Series the pipeline selects.", labels=["pipeline"]
    )
    failing = GaugeMetricFamily(
        "forecaster_series_failing",
        "Series whose newest run failed them (as `forecaster status` shows).",
        labels=["pipeline"],
    )
    lag = GaugeMetricFamily(
        "forecaster_lag_seconds",
        "Largest lag of a series' watermark behind its newest observation.",
        labels=["pipeline"],
    )
    spread = GaugeHistogramMetricFamily(
        "forecaster_lag_distribution_seconds",
        "Series by their lag behind their newest observation (series scored at least once).",
        labels=["pipeline"],
    )
    age = GaugeMetricFamily(
        "forecaster_model_age_seconds",
        "Age of the oldest model in use (each series' newest model version).",
        labels=["pipeline"],
    )
    families: list[Metric] = [selected, failing, lag, spread, age]
    for pipeline, rows in snapshot.items():
        lags = [r.lag for r in rows if r.lag is not None]
        ages = [r.model_age for r in rows if r.model_age is not None]
        selected.add_metric([pipeline], len(rows))
        failing.add_metric([pipeline], sum(r.failing for r in rows))
        if lags:
            lag.add_metric([pipeline], max(lags))
        spread.add_metric([pipeline], lag_buckets(lags), sum(lags))
        if ages:
            age.add_metric([pipeline], max(ages))
    if series_labels:
        families += series_families(snapshot)
    return families


def lag_buckets(lags: Sequence[float]) -> list[tuple[str, float]]:
    """Cumulative bucket counts (`le` upper bounds, +Inf last) of a set of lags."""
    bounds = [*LAG_BUCKETS, float("inf")]
    return [(floatToGoString(b), float(sum(lag <= b for lag in lags))) for b in bounds]


def series_families(snapshot: dict[str, list[SeriesFreshness]]) -> list[Metric]:
    """The opt-in per-series gauges (`daemon.metrics_series_labels`)."""
    labels = ["pipeline", "series"]
    lag = GaugeMetricFamily(
        "forecaster_series_lag_seconds",
        "A series' lag behind its newest observation.",
        labels=labels,
    )
    age = GaugeMetricFamily(
        "forecaster_series_model_age_seconds", "Age of a series' model.", labels=labels
    )
    failing = GaugeMetricFamily(
        "forecaster_series_failed", "1 while a series' newest run failed it.", labels=labels
    )
    for pipeline, rows in snapshot.items():
        for row in rows:
            if row.lag is not None:
                lag.add_metric([pipeline, row.series], row.lag)
            if row.model_age is not None:
                age.add_metric([pipeline, row.series], row.model_age)
            failing.add_metric([pipeline, row.series], float(row.failing))
    return [lag, age, failing]


class FreshnessCollector:
    """A prometheus-client collector: reads the daemon's pipelines' status at most once per
    `refresh_seconds`; a database that does not answer leaves these metrics out (and
    /readyz says why) instead of failing the whole scrape."""

    def __init__(
        self,
        context: AppContext,
        pipelines: Sequence[str],
        *,
        refresh_seconds: float,
        series_labels: bool,
        clock: Clock,
    ) -> None:
        self.context = context
        self.pipelines = list(pipelines)
        self.refresh_seconds = refresh_seconds
        self.series_labels = series_labels
        self.clock = clock
        self._lock = threading.Lock()  # one database read at a time, however many scrapes
        self._snapshot: dict[str, list[SeriesFreshness]] | None = None
        self._read_at = float("-inf")

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot()
        if snapshot is not None:
            yield from pipeline_families(snapshot, series_labels=self.series_labels)

    def snapshot(self) -> dict[str, list[SeriesFreshness]] | None:
        with self._lock:
            if time.monotonic() - self._read_at >= self.refresh_seconds:
                self._snapshot = self._read()
                self._read_at = time.monotonic()
            return self._snapshot

    def _read(self) -> dict[str, list[SeriesFreshness]] | None:
        try:
            statuses = pipeline_status(self.context)
        except Exception as exc:  # an outage: no stale values, the next scrape tries again
            log.warning("metrics: cannot read the pipelines' status: %s", exception_summary(exc))
            return None
        now_ts = self.clock().timestamp()
        wanted = set(self.pipelines)
        return {s.name: freshness(s, now_ts) for s in statuses if s.name in wanted}
