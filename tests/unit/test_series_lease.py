"""Which lease holders a backfill takes over before their lease expires."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from pipelines.jobs.series_lease import LeaseTerms, holder_is_gone

TERMS = LeaseTerms(run="backfill run 7", seconds=600, wait_seconds=600)
HOST = socket.gethostname()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_task_of_the_same_run_and_a_dead_local_process_are_gone() -> None:
    assert TERMS.owner == f"backfill run 7 {HOST}:{os.getpid()}"
    assert holder_is_gone(f"backfill run 7 other-host:{os.getpid()}", TERMS)
    assert holder_is_gone(f"backfill run 3 {HOST}:{dead_pid()}", TERMS)
    assert holder_is_gone(f"{HOST}:{dead_pid()}", TERMS)  # a daemon replica killed here


def test_live_processes_and_other_hosts_are_not_gone() -> None:
    assert not holder_is_gone(f"backfill run 70 {HOST}:{os.getpid()}", TERMS)
    assert not holder_is_gone(f"{HOST}:{os.getpid()}", TERMS)
    assert not holder_is_gone(f"elsewhere:{dead_pid()}", TERMS)
    assert not holder_is_gone("someone", TERMS)
