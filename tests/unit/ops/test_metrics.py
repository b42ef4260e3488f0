"""The daemon's metrics from hand-made cycle reports and status snapshots: counters by
pipeline, job and status, the duration histogram, lag and model age families."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from pipelines.daemon.cycles import CycleReport
from pipelines.ops.freshness import SeriesFreshness, lag_buckets, pipeline_families
from pipelines.ops.metrics import CycleMetrics

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def report(**counts: Any) -> CycleReport:
    return CycleReport(**{"pipeline": "p", "job": "detect", "cycle_at": AT, **counts})


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_cycle_reports_feed_the_counters_and_the_histogram() -> None:
    registry = CollectorRegistry()
    metrics = CycleMetrics(registry)
    metrics.observe(report(series=3, points=40, anomalies=2, events=1, seconds=0.3), 100.0)
    metrics.observe(report(series=2, points=5, seconds=7.0, errors={"b": "constant"}), 160.0)
    metrics.observe(report(aborted="database unreachable", seconds=120.5), 300.0)
    metrics.observe(report(job="retrain", series=3, models_trained=2, seconds=40.0), 400.0)
    metrics.database_retry("connection refused")
    metrics.database_retry("connection refused")

    detect = {"pipeline": "p", "job": "detect"}
    assert value(registry, "forecaster_cycles_total", **detect, status="ok") == 1
    assert value(registry, "forecaster_cycles_total", **detect, status="partial") == 1
    assert value(registry, "forecaster_cycles_total", **detect, status="aborted") == 1
    assert value(registry, "forecaster_cycles_total", pipeline="p", job="retrain", status="ok") == 1
    assert value(registry, "forecaster_cycle_duration_seconds_count", **detect) == 3
    assert value(registry, "forecaster_cycle_duration_seconds_sum", **detect) == 127.8
    assert value(registry, "forecaster_cycle_duration_seconds_bucket", **detect, le="0.5") == 1
    assert value(registry, "forecaster_cycle_duration_seconds_bucket", **detect, le="10.0") == 2
    assert value(registry, "forecaster_series_processed_total", **detect) == 5
    assert value(registry, "forecaster_series_failures_total", **detect) == 1
    assert value(registry, "forecaster_points_scored_total", pipeline="p") == 45
    assert value(registry, "forecaster_anomalies_written_total", pipeline="p") == 2
    assert value(registry, "forecaster_events_written_total", pipeline="p") == 1
    assert value(registry, "forecaster_models_trained_total", pipeline="p", job="retrain") == 2
    assert value(registry, "forecaster_models_trained_total", **detect) == 0
    assert value(registry, "forecaster_last_cycle_end_timestamp_seconds", **detect) == 300.0
    assert value(registry, "forecaster_database_retries_total") == 2


def test_two_registries_stay_apart() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    CycleMetrics(first).observe(report(series=1), 1.0)
    CycleMetrics(second)  # a second daemon in the same process: no duplicate-name error
    assert value(first, "forecaster_series_processed_total", pipeline="p", job="detect") == 1
    assert value(second, "forecaster_series_processed_total", pipeline="p", job="detect") is None


def test_lag_buckets_are_cumulative_with_inf_last() -> None:
    buckets = lag_buckets([0.0, 0.0, 90.0, 4000.0])
    assert buckets[0] == ("0.0", 2.0)
    assert dict(buckets)["60.0"] == 2.0
    assert dict(buckets)["300.0"] == 3.0
    assert dict(buckets)["3600.0"] == 3.0
    assert dict(buckets)["14400.0"] == 4.0
    assert buckets[-1] == ("+Inf", 4.0)


SNAPSHOT = {
    "p": [
        SeriesFreshness("a", lag=0.0, model_age=3600.0, failing=False),
        SeriesFreshness("b", lag=900.0, model_age=7200.0, failing=True),
        SeriesFreshness("c", lag=None, model_age=None, failing=False),  # not scored yet
    ]
}


def collected(series_labels: bool) -> CollectorRegistry:
    registry = CollectorRegistry()

    class Snapshot:
        def collect(self) -> list[Metric]:
            return pipeline_families(SNAPSHOT, series_labels=series_labels)

    registry.register(Snapshot())
    return registry


def test_lag_model_age_and_failing_series_per_pipeline() -> None:
    registry = collected(series_labels=False)
    assert value(registry, "forecaster_series_selected", pipeline="p") == 3
    assert value(registry, "forecaster_series_failing", pipeline="p") == 1
    assert value(registry, "forecaster_lag_seconds", pipeline="p") == 900
    assert value(registry, "forecaster_model_age_seconds", pipeline="p") == 7200
    lag = "forecaster_lag_distribution_seconds"
    assert value(registry, f"{lag}_bucket", pipeline="p", le="0.0") == 1
    assert value(registry, f"{lag}_bucket", pipeline="p", le="900.0") == 2
    assert value(registry, f"{lag}_gcount", pipeline="p") == 2
    assert value(registry, f"{lag}_gsum", pipeline="p") == 900
    text = generate_latest(registry).decode()
    assert 'series="' not in text  # bounded: no per-series label by default
    assert "# TYPE forecaster_lag_distribution_seconds histogram" in text


def test_series_labels_are_an_opt_in() -> None:
    registry = collected(series_labels=True)
    assert value(registry, "forecaster_series_lag_seconds", pipeline="p", series="b") == 900
    assert value(registry, "forecaster_series_model_age_seconds", pipeline="p", series="a") == 3600
    assert value(registry, "forecaster_series_failed", pipeline="p", series="b") == 1
    assert value(registry, "forecaster_series_failed", pipeline="p", series="c") == 0
    assert value(registry, "forecaster_series_lag_seconds", pipeline="p", series="c") is None
