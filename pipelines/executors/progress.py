"""Progress of series running in other processes, relayed to the parent's bars by a queue."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from pipelines.detect.run import ProgressCallback
from pipelines.executors.task import SeriesProgress

Message = tuple[str, str, int]  # ("start" | "advance", series, points)


class PutQueue(Protocol):
    def put(self, item: Any) -> None: ...


class QueueProgress:
    """A worker's `on_series`: sends each series' start and progress to the parent (picklable,
    so it travels with the task)."""

    def __init__(self, queue: PutQueue) -> None:
        self.queue = queue

    def __call__(self, series: str, pending: int) -> ProgressCallback:
        self.queue.put(("start", series, pending))

        def advance(points: int, _last: datetime | None) -> None:
            self.queue.put(("advance", series, points))

        return advance


@contextmanager
def relayed(get: Callable[[float], list[Message]], on_series: SeriesProgress) -> Iterator[None]:
    """Drain the workers' messages into `on_series` bars on a thread while the block runs,
    and what is left once it ends. `get(timeout)` returns what came within about `timeout`
    seconds ([] when nothing did; with 0, only what is waiting)."""
    bars: dict[str, ProgressCallback] = {}
    stop = threading.Event()

    def handle(message: Message) -> None:
        kind, series, points = message
        if kind == "start":
            bars[series] = on_series(series, points)
        elif series in bars:
            bars[series](points, None)

    def drain() -> None:
        while not stop.is_set():
            for message in get(0.2):
                handle(message)
        while messages := get(0.0):
            for message in messages:
                handle(message)

    thread = threading.Thread(target=drain, name="progress-relay", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
