"""Run a backfill's series as tasks on an existing Dask distributed cluster.

Each series is one task running the same importable function as a local worker
(`run_in_worker`). Workers reach the database by its URL and the model store by `model_dir`,
which must be a filesystem every worker shares. A worker that dies mid-series loses at most
its uncommitted chunk: Dask reruns the task elsewhere and the rerun resumes at the watermark,
taking back the run's own lease at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from forecaster.config.settings import Settings
from forecaster.errors import ForecasterError
from pipelines.detect.run import SeriesReport
from pipelines.executors.progress import Message, QueueProgress, relayed
from pipelines.executors.reports import in_task_order
from pipelines.executors.task import SeriesProgress, SeriesTask, run_in_worker

CONNECT_TIMEOUT = "10s"
TASK_RETRIES = 2  # reruns of a task whose worker died


def run_on_dask(
    settings: Settings,
    tasks: Sequence[SeriesTask],
    *,
    address: str,
    threads: int,
    on_series: SeriesProgress | None = None,
    on_done: Callable[[SeriesReport], None] | None = None,
) -> list[SeriesReport]:
    """Each task's report, in task order; `on_done` as each one finishes. A task gives the
    compute pools its worker's environment leaves unset `threads` threads."""
    distributed = _import_distributed()
    with ExitStack() as stack:
        client = stack.enter_context(_connect(distributed, address))
        relay = None
        if on_series is not None:
            name = f"forecaster-progress-{uuid.uuid4().hex}"
            messages = distributed.Queue(name, client=client)
            relay = QueueProgress(NamedQueue(name))
            stack.enter_context(relayed(_getter(messages), on_series))
        futures = {
            client.submit(
                run_in_worker,
                settings,
                task,
                relay,
                threads,
                key=f"forecaster-backfill-{uuid.uuid4().hex}",
                pure=False,
                retries=TASK_RETRIES,
            ): task
            for task in tasks
        }
        finished = ((futures[f], _report(f, futures[f])) for f in distributed.as_completed(futures))
        return in_task_order(tasks, finished, on_done)


class NamedQueue:
    """A Dask queue by its name, opened in the worker on first use: a Queue object pickled
    into a task's arguments is opened by the scheduler as it reads the graph, which blocks it
    when the scheduler runs in the client's process (a LocalCluster)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: Any = None

    def __getstate__(self) -> dict[str, str]:
        return {"name": self.name}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["name"])  # type: ignore[misc]

    def put(self, item: Any) -> None:
        if self._queue is None:
            from distributed import Queue

            self._queue = Queue(self.name)
        self._queue.put(item)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ForecasterError(
            "running on a Dask cluster needs the dask extra: pip install 'forecaster[dask]' "
            "(or pip install -e '.[dask]' in a checkout)"
        ) from None
    return distributed


def _connect(distributed: Any, address: str) -> Any:
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ForecasterError(
            f"cannot reach the Dask scheduler at {address}: {exc} (is `dask scheduler` running "
            "there?)"
        ) from None


def _report(future: Any, task: SeriesTask) -> SeriesReport:
    """The task's report; a task Dask gave up on (its workers kept dying) is an error."""
    try:
        report: SeriesReport = future.result()
    except Exception as exc:  # KilledWorker, a lost scheduler: the series is not finished
        return SeriesReport(
            series=task.series,
            error=f"the Dask task failed ({type(exc).__name__}: {exc}); the chunks it committed "
            "are kept and a rerun of the backfill resumes the series",
        )
    return report


def _getter(messages: Any) -> Callable[[float], list[Message]]:
    """Polls: a get that waits with a timeout makes the scheduler log a traceback each time
    it expires, so sleep, then take whatever is waiting without blocking."""

    def get(timeout: float) -> list[Message]:
        time.sleep(timeout)
        try:
            if not messages.qsize():
                return []
            items: list[Message] = messages.get(batch=True)
        except Exception:  # the cluster went away: the tasks' futures will say so
            return []
        return items

    return get
