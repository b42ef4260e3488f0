"""`forecaster demo` end to end, `forecaster plot`, and `demo-feed` with the daemon (and its
notifications), as subprocesses (the pieces behind them: tests/unit/pipelines/test_demo.py and
tests/integration/test_plot_data.py)."""

from __future__ import annotations

import shlex
import shutil
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.demo.samples import QUICK, found, sample_series, synthetic_series
from pipelines.demo.tour import CONFIG_FILE, DB_FILE, OUTPUT_DIR
from tests.helpers.cli import heavy_modules_loaded, run_cli
from tests.helpers.daemon import start_daemon, wait_for
from tests.helpers.http import free_port
from tests.helpers.plots import assert_png
from tests.helpers.receiver import Receiver, outbox


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One `forecaster demo --quick` run shared by the tests of this module: (dir, stdout)."""
    base = tmp_path_factory.mktemp("demo")
    directory = base / "demo run"  # a space: the printed commands must quote the path
    result = run_cli("demo", "--quick", "--dir", str(directory), cwd=base, timeout=600)
    return directory, result.stdout


@pytest.mark.slow
def test_quick_demo_finds_most_injected_anomalies(quick_demo: tuple[Path, str]) -> None:
    directory, stdout = quick_demo
    with sqlite3.connect(directory / DB_FILE) as db:
        assert db.execute("SELECT count(*) FROM anomalies").fetchone()[0] > 0
        assert db.execute("SELECT count(DISTINCT series_id) FROM forecasts").fetchone()[0] == 5
        events = db.execute(
            "SELECT s.name, e.start_ts, e.end_ts FROM anomaly_events e "
            "JOIN series s ON s.id = e.series_id"
        ).fetchall()
    spans: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    for name, start, end in events:
        spans.setdefault(name, []).append(
            (pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))
        )
    hits, total = 0, 0
    for sample in synthetic_series(QUICK):
        total += len(sample.labels)
        tolerance = pd.Timedelta(hours=3)
        for label in sample.labels:
            hits += any(
                start <= label.end + tolerance and end >= label.start - tolerance
                for start, end in spans.get(sample.name, [])
            )
        found_text = f"{sum(found(sample.labels, spans.get(sample.name, []), tolerance))} of "
        assert found_text + f"{len(sample.labels)} injected" in stdout
    assert hits > total / 2, f"only {hits} of {total} injected anomalies found"
    assert "vix" in stdout and "known market shocks" in stdout


@pytest.mark.slow
def test_quick_demo_prints_queries_that_run(quick_demo: tuple[Path, str]) -> None:
    directory, stdout = quick_demo
    commands = [shlex.split(line) for line in stdout.splitlines() if line.startswith("sqlite3 ")]
    assert len(commands) == 3
    tables = set()
    for command in commands:
        path, sql = command[-2], command[-1]
        assert Path(path) == directory / DB_FILE
        with sqlite3.connect(path) as db:
            rows = db.execute(sql).fetchall()
        assert rows, sql
        tables |= {t for t in ("anomalies", "anomaly_events", "forecasts") if f"FROM {t}" in sql}
    assert tables == {"anomalies", "anomaly_events", "forecasts"}
    # The config it wrote works for the other commands.
    status = run_cli("status", "-c", str(directory / CONFIG_FILE), cwd=directory.parent)
    assert "pipeline demo: 5 series" in status.stdout


@pytest.mark.slow
def test_quick_demo_draws_every_series(quick_demo: tuple[Path, str]) -> None:
    directory, _ = quick_demo
    output = directory / OUTPUT_DIR
    for sample in sample_series(QUICK):
        assert_png(output / f"{sample.name}.png")
    index = (output / "index.html").read_text()
    assert "boiler_temp.png" in index and "top events by peak score" in index


@pytest.mark.slow
def test_plot_command(quick_demo: tuple[Path, str], tmp_path: Path) -> None:
    directory, _ = quick_demo
    config = ("-c", str(directory / CONFIG_FILE))
    png = tmp_path / "vix.png"
    drawn = run_cli(
        "plot",
        *config,
        "--series",
        "vix",
        "--start",
        "2024-01-01",
        "--out",
        str(png),
        cwd=tmp_path,
    )
    assert "vix" in drawn.stdout
    assert_png(png)

    unknown = run_cli(
        "plot", *config, "--series", "nope", "--out", str(png), cwd=tmp_path, check=False
    )
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "no series named 'nope'" in unknown.stderr

    empty = run_cli(
        "plot",
        *config,
        "--series",
        "vix",
        "--start",
        "1980-01-01",
        "--end",
        "1980-02-01",
        "--out",
        str(png),
        cwd=tmp_path,
        check=False,
    )
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert "series 'vix' has no observations between 1980-01-01" in empty.stderr

    neither = run_cli("plot", *config, "--series", "vix", cwd=tmp_path, check=False)
    assert neither.returncode == 1 and "give --out FILE.png" in neither.stderr

    html = run_cli("plot", *config, "--html", str(tmp_path / "report"), cwd=tmp_path)
    assert "5 series" in html.stdout
    for name in ("boiler_temp", "vix"):
        assert_png(tmp_path / "report" / f"{name}.png")
    index = (tmp_path / "report" / "index.html").read_text()
    assert index.count("<img ") == 5


def test_plot_help_and_database_code_load_neither_tensorflow_nor_matplotlib() -> None:
    output, loaded = heavy_modules_loaded(
        ["plot", "--help"],
        {"tensorflow", "keras", "matplotlib"},
        imports=("pipelines.demo.tour", "pipelines.plot.render", "pipelines.plot.data"),
    )
    assert "--series" in output and "--html" in output
    assert loaded == []


@pytest.mark.slow
def test_the_daemon_keeps_the_demo_current_while_demo_feed_appends(
    quick_demo: tuple[Path, str], tmp_path: Path
) -> None:
    directory, _ = quick_demo
    live = tmp_path / "live"
    shutil.copytree(directory, live)  # the other tests keep the demo as it was
    sensors = [s.name for s in synthetic_series(QUICK)]

    def newest_and_watermark() -> list[tuple[str, str, str | None]]:
        with sqlite3.connect(live / DB_FILE) as db:
            return db.execute(
                "SELECT s.name, max(o.ts), w.last_ts FROM series s JOIN observations o "
                "ON o.series_id = s.id LEFT JOIN watermarks w ON w.series_id = s.id "
                "GROUP BY s.name, w.last_ts ORDER BY s.name"
            ).fetchall()

    before = dict((name, newest) for name, newest, _ in newest_and_watermark())
    # A webhook that is down while the fed spikes open their events (connections refused).
    hook = free_port()
    with (live / CONFIG_FILE).open("a", encoding="utf-8") as config:
        config.write(
            f"notify:\n  sinks:\n    - {{name: ops, url: 'http://127.0.0.1:{hook}/'}}\n"
            "  retry: {first_delay_seconds: 0.2, max_delay_seconds: 1}\n  poll_seconds: 0.5\n"
        )
    daemon = start_daemon(live)
    try:
        fed = run_cli(
            "demo-feed",
            "--dir",
            str(live),
            "--every",
            "0.3s",
            "--count",
            "12",
            "--spike-every",
            "6",
            cwd=tmp_path,
        )
        assert "12 point(s) per sensor appended" in fed.stdout
        assert fed.stdout.count("a spike in") == 2
        # The daemon catches up: every series scored up to its newest point.
        wait_for(
            lambda: all(mark == newest for _, newest, mark in newest_and_watermark()),
            timeout=120,
            process=daemon,
        )
        status = run_cli("status", "-c", str(live / CONFIG_FILE), cwd=tmp_path).stdout
        # The spikes' events are queued with the rows and tried, but nothing could be delivered.
        url = f"sqlite:///{live / DB_FILE}"
        wait_for(lambda: all_of(outbox(url), lambda tries, _: tries >= 1), 30, process=daemon)
        assert all_of(outbox(url), lambda _, delivered: delivered is None)
        with Receiver(hook) as receiver:  # the webhook comes back: each event arrives once
            wait_for(lambda: all_of(outbox(url), lambda _, at: at is not None), 30, process=daemon)
            time.sleep(1.5)  # more sender passes: nothing is sent again
        keys = sorted(key for key, _, _ in outbox(url))
        assert sorted(receiver.keys()) == keys and len(set(keys)) == len(keys)
        assert {r.body["kind"] for r in receiver.received} == {"open"}
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    rows = {line.split("│")[1].strip(): line for line in status.splitlines() if "│" in line}
    for name in [*sensors, "vix"]:
        assert " 0s " in rows[name], status
    with sqlite3.connect(live / DB_FILE) as db:
        for name in sensors:
            newest = pd.Timestamp(before[name]) + pd.Timedelta(hours=12)
            scored, fresh = db.execute(
                "SELECT sum(f.step = 1 AND f.ts > ?1 AND f.ts <= ?2), sum(f.issued_at = ?2) "
                "FROM forecasts f JOIN series s ON s.id = f.series_id WHERE s.name = ?3",
                (before[name], newest.strftime("%Y-%m-%d %H:%M:%S.%f"), name),
            ).fetchone()
            assert (scored, fresh) == (12, 12), name  # each new point, and the next 12 hours
        first_fed = min(before[name] for name in sensors)
        spikes = db.execute("SELECT count(*) FROM anomalies WHERE ts > ?", (first_fed,)).fetchone()
    assert spikes[0] >= 1  # the fed spikes are flagged as they arrive


def all_of(rows: list[tuple[str, int, Any]], holds: Callable[[int, Any], bool]) -> bool:
    """Whether there are queued notifications and every one's (attempts, delivered_at) holds
    (never true of an empty read, e.g. while the daemon held the database's write lock)."""
    return bool(rows) and all(holds(attempts, delivered) for _, attempts, delivered in rows)
