"""The daemon's metrics companion: counts every finished cycle and serves /metrics, /healthz
and /readyz on one port while the daemon runs."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from forecaster.config.pipeline import PipelineSettings
from pipelines.context import AppContext
from pipelines.daemon.cycles import CycleReport
from pipelines.daemon.liveness import SchedulerWatch
from pipelines.ops.freshness import FreshnessCollector
from pipelines.ops.health import Readiness
from pipelines.ops.metrics import CycleMetrics
from pipelines.ops.server import ProbeServer, Response

log = logging.getLogger(__name__)


class MetricsCompanion:
    """A `Companion` (pipelines/daemon/companions.py) of `forecaster daemon --metrics-port`."""

    def __init__(
        self,
        context: AppContext,
        pipelines: Sequence[PipelineSettings],
        *,
        port: int,
        watch: SchedulerWatch,
    ) -> None:
        settings = context.settings.daemon
        self.clock = context.clock
        self.watch = watch
        self.registry = CollectorRegistry()
        self.cycles = CycleMetrics(self.registry)
        self.registry.register(
            FreshnessCollector(
                context,
                [p.name for p in pipelines],
                refresh_seconds=settings.metrics_refresh_seconds,
                series_labels=settings.metrics_series_labels,
                clock=context.clock,
            )
        )
        self.readiness = Readiness(context.engine, pipelines, clock=context.clock)
        routes = {"/metrics": self.metrics, "/healthz": self.healthz, "/readyz": self.readyz}
        self.server = ProbeServer(settings.metrics_host, port, routes)

    def start(self) -> None:
        self.server.start()
        where = f"{self.server.host}:{self.server.port}"
        log.info("metrics on http://%s/metrics, probes on /healthz and /readyz", where)

    def cycle_finished(self, report: CycleReport) -> None:
        self.cycles.observe(report, self.clock().timestamp())
        self.readiness.cycle_finished(report)

    def stop(self) -> None:
        self.server.stop()

    def database_retry(self, reason: str) -> None:
        """Count a database retry (`Retrying`'s `on_retry`)."""
        self.cycles.database_retry(reason)

    # --- the routes ------------------------------------------------------------------------

    def metrics(self) -> Response:
        return Response(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)

    def healthz(self) -> Response:
        if self.watch.alive():
            return Response(200, b"ok: the scheduler is running\n")
        return Response(503, b"not alive: the scheduler is not running\n")

    def readyz(self) -> Response:
        problem = self.readiness.problem()
        if problem is None:
            return Response(200, b"ready: database reachable, detection cycles on schedule\n")
        return Response(503, f"not ready: {problem}\n".encode())
