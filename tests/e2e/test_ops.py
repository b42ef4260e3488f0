"""A real daemon with a metrics port, asked over real HTTP and by `forecaster probe`: metric
names and counts, /healthz, /readyz, JSON log lines, and a port already in use."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.cli import heavy_modules_loaded, run_cli
from tests.helpers.daemon import start_daemon
from tests.helpers.databases import BACKENDS, database
from tests.helpers.http import free_port, get
from tests.helpers.series import write_config, write_series

METRICS = {
    "forecaster_cycles",
    "forecaster_cycle_duration_seconds",
    "forecaster_series_processed",
    "forecaster_points_scored",
    "forecaster_anomalies_written",
    "forecaster_events_written",
    "forecaster_models_trained",
    "forecaster_database_retries",
    "forecaster_series_failing",
    "forecaster_series_selected",
    "forecaster_lag_distribution_seconds",
}


def daemon_dir(url: str, tmp_path: Path, *, series: bool = True, **daemon: object) -> Path:
    """A config with a 2 s schedule and one 120-point series: fewer points than the first
    model needs, so no cycle trains (or loads TensorFlow) and cycles take milliseconds."""
    work = tmp_path / "ops"
    work.mkdir()
    config = write_config(work, url, schedule={"every": "2s"})
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "daemon": daemon}))
    run_cli("db", "upgrade", cwd=work)
    if series:
        write_series(tmp_path / "s.csv", n=120)
        run_cli("ingest", str(tmp_path / "s.csv"), "--series", "s", cwd=work)
    return work


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_daemon_serves_metrics_health_and_readiness(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    port = free_port()
    work = daemon_dir(database(backend, request, tmp_path, "ops"), tmp_path, metrics_port=port)
    process = start_daemon(work, args=["--log-format", "json"])  # the port from the config
    base = f"http://127.0.0.1:{port}"
    try:
        ready = run_cli("probe", "--ready", "--wait", "60", cwd=work, check=False, timeout=90)
        assert ready.returncode == 0, (ready.stderr, (work / "daemon.log").read_text())
        assert ready.stdout.startswith("ready: database reachable")
        status, text = get(f"{base}/metrics")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families.keys() >= METRICS, sorted(families)
        cycles = [s for s in families["forecaster_cycles"].samples if s.name.endswith("_total")]
        assert cycles and cycles[0].labels == {
            "pipeline": "default",
            "job": "detect",
            "status": "ok",
        }
        assert cycles[0].value > 0
        assert get(f"{base}/healthz") == (200, "ok: the scheduler is running\n")
        assert get(f"{base}/readyz")[0] == 200
        alive = run_cli("probe", "--port", str(port), "--host", "127.0.0.1", cwd=work)
        assert alive.stdout.strip() == "ok: the scheduler is running"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    gone = run_cli("probe", "--port", str(port), cwd=work, check=False)
    assert gone.returncode == 1 and "cannot reach http://127.0.0.1:" in gone.stderr
    lines = [json.loads(line) for line in (work / "daemon.log").read_text().splitlines()]
    cycle = next(line for line in lines if line["logger"] == "pipelines.daemon.cycles")
    assert cycle["pipeline"] == "default" and cycle["job"] == "detect"
    assert cycle["counts"]["series"] == 1 and "duration_seconds" in cycle


def test_a_metrics_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    work = daemon_dir(f"sqlite:///{tmp_path / 'busy.db'}", tmp_path, series=False)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_cli("daemon", "--metrics-port", str(port), cwd=work, check=False, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: metrics port 127.0.0.1:{port} is already in use (another daemon or program "
        "listens there; choose another --metrics-port or daemon.metrics_port)"
    ]


def test_probe_loads_neither_tensorflow_nor_sqlalchemy(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"daemon": {"metrics_port": 9}}))
    _output, heavy = heavy_modules_loaded(
        ["probe", "--config", str(tmp_path / "config.yaml")], {"tensorflow", "keras", "sqlalchemy"}
    )
    assert heavy == []
