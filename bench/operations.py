"""What the operations parts cost a daemon cycle: the same cycles with and without the
metrics server (scraped after every cycle), the notification outbox and its sender thread.

Builds the bench.daemon fixture (one series backfilled for real, its rows and models copied),
then runs warm detection cycles alternately plain and with the operations parts, on one
`Cycles` runner (so both see the same warm memory); each cycle appends one point per series,
with a spike in every 50th series, so events open and notifications are sent to a local
webhook receiver. Reports the median warm cycle of each and their ratio.

Run from the repository root: python -m bench.operations [--series 1000] [--cycles 3]
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

from bench.common import fresh_database
from bench.daemon import HISTORY, append_point, build, run_cycle_bench
from bench.fixtures import FREQUENCY, START
from forecaster.config.database import DatabaseSettings
from forecaster.config.notify import NotifySettings, SinkSettings
from forecaster.config.pipeline import PipelineSettings
from forecaster.config.settings import Settings
from pipelines.context import AppContext, open_context
from pipelines.daemon.companions import Companions
from pipelines.daemon.cycles import Cycles
from pipelines.daemon.liveness import SchedulerWatch
from pipelines.detect.sink import database_sink
from pipelines.notify.wiring import Notifications, daemon_notifications
from pipelines.ops.companion import MetricsCompanion

SPIKE_EVERY = 50  # every 50th series gets a spike in each cycle


@contextmanager
def webhook() -> Iterator[tuple[str, list[int]]]:
    """A local receiver that acknowledges every POST; its URL and the count received."""
    received = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received[0] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def measure(backend: str, series: int, cycles: int, workdir: Path) -> dict[str, Any]:
    with fresh_database(backend, workdir) as url, webhook() as (hook, received):
        notify = NotifySettings(sinks=[SinkSettings(name="bench", url=hook)])
        settings = Settings(
            database=DatabaseSettings(url=url),
            model_dir=workdir / f"models-{backend}",
            pipelines=[PipelineSettings(name="default")],
            notify=notify,
        )
        context = open_context(settings)
        try:
            ids = build(context, series)
            pipelines = list(settings.pipelines)
            notifications = daemon_notifications(context)
            metrics = MetricsCompanion(context, pipelines, port=0, watch=SchedulerWatch())
            beside = Companions([metrics, *notifications.companions])
            runner = Cycles(context, clock=lambda: datetime.now(UTC))
            beside.start()
            try:
                seconds = run_cycles(context, runner, ids, cycles, metrics, beside, notifications)
            finally:
                beside.stop()
        finally:
            context.close()
    plain, ops = (statistics.median(seconds[mode]) for mode in ("plain", "operations"))
    return {
        "backend": backend,
        "series": series,
        "plain_cycle_seconds_median": plain,
        "operations_cycle_seconds_median": ops,
        "ratio": ops / plain,
        "notifications_received": received[0],
    }


def run_cycles(
    context: AppContext,
    runner: Cycles,
    ids: list[int],
    cycles: int,
    metrics: MetricsCompanion,
    beside: Companions,
    notifications: Notifications,
) -> dict[str, list[float]]:
    """A cold cycle, then `cycles` pairs of warm ones (plain, with operations), alternating."""
    seconds: dict[str, list[float]] = {"plain": [], "operations": []}
    scrape = f"http://127.0.0.1:{metrics.server.port}/metrics"
    for k in range(2 * cycles + 1):
        mode = "operations" if k % 2 == 0 else "plain"
        runner.sink = notifications.sink if mode == "operations" else database_sink
        runner.on_cycle = beside.cycle_finished if mode == "operations" else None
        at = START + (HISTORY + k) * FREQUENCY
        append_point(context, ids, at, seed=k, spike_every=SPIKE_EVERY)
        started = time.perf_counter()
        report = runner.detect("default", datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=k))
        if mode == "operations":
            with urllib.request.urlopen(scrape, timeout=30) as answer:  # what Prometheus does
                answer.read()
        took = time.perf_counter() - started
        assert report.series == len(ids) and report.failed == 0, report
        if k:  # the first is the cold cycle (models from disk)
            seconds[mode].append(took)
        print(f"  cycle {k} ({mode}): {took:.2f} s, {report.anomalies} anomalies", flush=True)
    return seconds


def main() -> None:
    headers = ["backend", "series", "plain cycle (s)", "with operations (s)", "ratio", "sent"]

    def row(f: dict[str, Any]) -> list[str]:
        return [
            f["backend"],
            str(f["series"]),
            f"{f['plain_cycle_seconds_median']:.2f}",
            f"{f['operations_cycle_seconds_median']:.2f}",
            f"{f['ratio']:.2f}",
            str(f["notifications_received"]),
        ]

    run_cycle_bench(__doc__ or "", "Warm pairs (medians reported).", measure, headers, row)


if __name__ == "__main__":
    main()
