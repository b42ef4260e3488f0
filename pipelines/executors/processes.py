"""Run a backfill's series in N local worker processes, each with its own TensorFlow.

Workers are spawned (never forked: a forked TensorFlow or database connection is unsafe), pin
their thread pools so N of them share the cores instead of oversubscribing them, and open
their own database connections. Rows are those of a run in one process: every series is
processed by the same code, in its own time order, by one worker.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack

from forecaster.config.settings import Settings
from pipelines.detect.run import SeriesReport
from pipelines.executors.progress import Message, QueueProgress, relayed
from pipelines.executors.reports import in_task_order
from pipelines.executors.task import SeriesProgress, SeriesTask, run_in_worker
from pipelines.executors.threads import pin_threads

WORKER_DIED = (
    "its worker process died before the series was finished (killed, or out of memory); "
    "the chunks it committed are kept and a rerun of the backfill resumes the series"
)


def run_in_processes(
    settings: Settings,
    tasks: Sequence[SeriesTask],
    *,
    workers: int,
    threads: int,
    on_series: SeriesProgress | None = None,
    on_done: Callable[[SeriesReport], None] | None = None,
) -> list[SeriesReport]:
    """Each task's report, in task order; `on_done` as each one finishes."""
    spawn = multiprocessing.get_context("spawn")
    with ExitStack() as stack:
        relay = None
        if on_series is not None:
            manager = stack.enter_context(spawn.Manager())
            messages = manager.Queue()
            relay = QueueProgress(messages)
            stack.enter_context(relayed(_getter(messages), on_series))
        pool = stack.enter_context(
            ProcessPoolExecutor(
                max_workers=min(workers, len(tasks)),
                mp_context=spawn,
                initializer=pin_threads,
                initargs=(threads,),
            )
        )
        futures = {pool.submit(run_in_worker, settings, task, relay): task for task in tasks}
        finished = ((futures[f], _report(f, futures[f])) for f in as_completed(futures))
        return in_task_order(tasks, finished, on_done)


def _report(future: Future[SeriesReport], task: SeriesTask) -> SeriesReport:
    """The task's report; a task whose worker process died is an error."""
    try:
        return future.result()
    except BrokenProcessPool:
        return SeriesReport(series=task.series, error=WORKER_DIED)


def _getter(messages: queue.Queue[Message]) -> Callable[[float], list[Message]]:
    def get(timeout: float) -> list[Message]:
        try:
            return [messages.get(timeout=timeout) if timeout > 0 else messages.get_nowait()]
        except queue.Empty:
            return []

    return get
