"""The daemon's counters and histograms, fed from each finished cycle's report, in a registry
of its own (never prometheus-client's global one, so two daemons in one process stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pipelines.daemon.cycles import CycleReport

# Cycle durations: a steady cycle takes well under a second per claim, a catch-up or a
# training cycle minutes.
CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class CycleMetrics:
    """Counts of what the daemon's cycles did; labels are pipeline, job and status only, so the
    number of time series does not grow with the number of series."""

    def __init__(self, registry: CollectorRegistry) -> None:
        by_job = ["pipeline", "job"]
        self.cycles = Counter(
            "forecaster_cycles_total",
            "Cycles finished, by status (ok, partial, failed, stopped, aborted).",
            [*by_job, "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "forecaster_cycle_duration_seconds",
            "Wall time of a cycle.",
            by_job,
            buckets=CYCLE_BUCKETS,
            registry=registry,
        )
        self.last_cycle = Gauge(
            "forecaster_last_cycle_end_timestamp_seconds",
            "Unix time at which the last cycle ended.",
            by_job,
            registry=registry,
        )
        self.series = _counter(registry, "series_processed", "Series processed by cycles.", by_job)
        self.series_failed = _counter(
            registry, "series_failures", "Series a cycle failed (their error is logged).", by_job
        )
        self.models = _counter(
            registry,
            "models_trained",
            "Models trained: job=detect at a series' first model and walk-forward cut-offs, "
            "job=retrain on drift or the training cron.",
            by_job,
        )
        self.points = _counter(registry, "points_scored", "Points scored.", ["pipeline"])
        self.anomalies = _counter(
            registry, "anomalies_written", "Anomaly rows written.", ["pipeline"]
        )
        self.events = _counter(registry, "events_written", "Anomaly events opened.", ["pipeline"])
        self.retries = Counter(
            "forecaster_database_retries_total",
            "Database steps retried while the database was unreachable.",
            registry=registry,
        )

    def observe(self, report: CycleReport, ended_at: float) -> None:
        """Count a finished cycle (`ended_at`: Unix time)."""
        job = (report.pipeline, report.job)
        self.cycles.labels(*job, report.status).inc()
        self.duration.labels(*job).observe(report.seconds)
        self.last_cycle.labels(*job).set(ended_at)
        self.series.labels(*job).inc(report.series)
        self.series_failed.labels(*job).inc(report.failed)
        self.models.labels(*job).inc(report.models_trained)
        self.points.labels(report.pipeline).inc(report.points)
        self.anomalies.labels(report.pipeline).inc(report.anomalies)
        self.events.labels(report.pipeline).inc(report.events)

    def database_retry(self, _reason: str) -> None:
        self.retries.inc()


def _counter(
    registry: CollectorRegistry, name: str, documentation: str, labels: list[str]
) -> Counter:
    return Counter(f"forecaster_{name}_total", documentation, labels, registry=registry)
