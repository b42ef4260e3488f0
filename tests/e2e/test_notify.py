"""Notifications end to end: a spike fed to a running daemon reaches a webhook receiver that
was down when the event opened, exactly once; `backfill` notifies only with `--notify`."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tests.helpers.cli import run_cli
from tests.helpers.daemon import start_daemon, wait_for
from tests.helpers.http import free_port
from tests.helpers.receiver import Receiver, outbox
from tests.helpers.series import SPIKE_AT, write_config, write_series

SPIKE = pd.Timestamp("2024-05-01", tz="UTC") + SPIKE_AT * pd.Timedelta("15min")
SPIKE_TIME = SPIKE.strftime("%Y-%m-%dT%H:%M:%SZ")  # as the notifications write times


def notifying_config(work: Path, url: str, hook: str, **pipeline: Any) -> None:
    """The tiny pipeline with one webhook sink and quick retries."""
    path = write_config(
        work, url, training={"initial_points": 200, "retrain_every": 2000}, **pipeline
    )
    config = yaml.safe_load(path.read_text())
    config["notify"] = {
        "sinks": [{"name": "ops", "url": hook, "timeout_seconds": 2}],
        "retry": {"first_delay_seconds": 0.3, "max_delay_seconds": 1},
        "poll_seconds": 0.5,
    }
    path.write_text(yaml.safe_dump(config))


def test_a_fed_spike_reaches_a_receiver_that_was_down_exactly_once(tmp_path: Path) -> None:
    work = tmp_path / "daemon"
    work.mkdir()
    url = f"sqlite:///{tmp_path / 'live.db'}"
    port = free_port()  # the receiver is down: connections are refused
    notifying_config(work, url, f"http://127.0.0.1:{port}/hook", schedule={"every": "1s"})
    run_cli("db", "upgrade", cwd=work)
    write_series(tmp_path / "s.csv", n=1100)
    frame = pd.read_csv(tmp_path / "s.csv")
    frame.iloc[: SPIKE_AT - 50].to_csv(tmp_path / "history.csv", index=False)
    frame.iloc[SPIKE_AT - 50 :].to_csv(tmp_path / "fed.csv", index=False)
    run_cli("ingest", str(tmp_path / "history.csv"), "--series", "s", cwd=work)
    run_cli("backfill", cwd=work)  # trains the model; a backfill notifies only with --notify
    assert outbox(url) == []
    daemon = start_daemon(work)
    try:
        wait_for(lambda: "started" in (work / "daemon.log").read_text(), 30, process=daemon)
        run_cli("ingest", str(tmp_path / "fed.csv"), "--series", "s", cwd=work)  # the spike
        wait_for(lambda: any(n >= 2 for _, n, _ in outbox(url)), timeout=40, process=daemon)
        assert all(at is None for _, _, at in outbox(url))  # nothing could be delivered
        with Receiver(port) as receiver:
            wait_for(
                lambda: outbox(url) and all(at is not None for _, _, at in outbox(url)),
                timeout=20,
                process=daemon,
            )
            time.sleep(1.5)  # a few more sender passes and cycles: nothing is sent again
            received = list(receiver.received)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    keys = [r.key for r in received]
    assert sorted(keys) == sorted(key for key, _, _ in outbox(url))  # each once
    spike = [r.body for r in received if r.body["start"] <= SPIKE_TIME <= r.body["last_point"]]
    assert len(spike) == 1 and spike[0]["series"] == "s" and spike[0]["kind"] == "open"
    assert "notifications: " in run_cli("notify-status", cwd=work).stdout
    assert "0 pending" in run_cli("notify-status", cwd=work).stdout


def test_backfill_notify_sends_the_events_it_opens_once(tmp_path: Path) -> None:
    work = tmp_path / "backfill"
    work.mkdir()
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with Receiver() as receiver:
        notifying_config(work, url, receiver.url)
        run_cli("db", "upgrade", cwd=work)
        write_series(tmp_path / "s.csv", n=1100)
        for name in ("s", "t"):
            run_cli("ingest", str(tmp_path / "s.csv"), "--series", name, cwd=work)
        # In worker processes: each queues its series' notifications in its own transactions.
        first = run_cli("backfill", "--notify", "--workers", "2", cwd=work).stdout
        sent = len(receiver.keys())
        assert sent >= 2 and f"notifications: {sent} sent, 0 pending" in first
        for name in ("s", "t"):
            assert any(
                r.body["series"] == name and r.body["start"] <= SPIKE_TIME <= r.body["last_point"]
                for r in receiver.received
            )
        again = run_cli("backfill", "--notify", cwd=work).stdout
        assert "notifications: 0 sent, 0 pending" in again
        assert len(receiver.keys()) == sent == len(set(receiver.keys()))
    plain = tmp_path / "plain"
    plain.mkdir()
    write_config(plain, url)  # no notify section
    missing = run_cli("backfill", "--notify", cwd=plain, check=False)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "--notify needs at least one sink in the config's notify.sinks" in missing.stderr
