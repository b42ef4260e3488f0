"""The daemon's scheduler in process, in real time (about 4 s, too slow for the unit lane; no
database): it never overlaps a long job and coalesces missed runs."""

from __future__ import annotations

import itertools
import threading
import time

from pipelines.daemon.scheduler import make_scheduler


def test_the_scheduler_never_overlaps_a_long_job_and_coalesces_missed_runs() -> None:
    scheduler = make_scheduler(misfire_grace_seconds=30)
    spans: list[tuple[float, float]] = []
    running = threading.Lock()
    overlapped = threading.Event()

    def slow_cycle() -> None:
        if not running.acquire(blocking=False):
            overlapped.set()
            return
        started = time.monotonic()
        time.sleep(1.2)  # longer than the 0.3 s interval
        spans.append((started, time.monotonic()))
        running.release()

    scheduler.add_job(slow_cycle, "interval", seconds=0.3, id="slow")
    scheduler.start()
    time.sleep(4.0)
    scheduler.shutdown(wait=True)
    assert not overlapped.is_set()
    assert 2 <= len(spans) <= 4  # ~13 fire times, coalesced into back-to-back runs
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end
