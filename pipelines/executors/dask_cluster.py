"""Run a backfill's series as tasks on an existing Dask distributed cluster.

Each series is one task running the same importable function as a local worker
(`run_in_worker`). Workers reach the database by its URL and the model store by `model_dir`,
which must be a filesystem every worker shares. A worker that dies mid-series loses at most
its uncommitted chunk: Dask reruns the task elsewhere and the rerun resumes at the watermark,
taking back the run's own lease at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from forecaster.config.settings import Settings
from forecaster.errors import ForecasterError
from pipelines.detect.run import SeriesReport
from pipelines.executors.progress import Message, QueueProgress, relayed
from pipelines.executors.task import SeriesProgress, SeriesTask, run_in_worker

CONNECT_TIMEOUT = "20s"
TASK_RETRIES = 2  # reruns of a task whose worker died


def run_on_dask(
    settings: Settings,
    tasks: Sequence[SeriesTask],
    *,
    address: str,
    on_series: SeriesProgress | None = None,
    on_done: Callable[[SeriesReport], None] | None = None,
) -> list[SeriesReport]:
    """Each task's report, in task order; `on_done` as each one finishes."""
    distributed = _import_distributed()
    with ExitStack() as stack:
        client = stack.enter_context(_connect(distributed, address))
        relay = None
        if on_series is not None:
            messages = distributed.Queue(f"forecaster-progress-{uuid.uuid4().hex}", client=client)
            relay = QueueProgress(messages)
            stack.enter_context(relayed(_getter(messages), on_series))
        futures = {
            client.submit(
                run_in_worker,
                settings,
                task,
                relay,
                key=f"forecaster-backfill-{uuid.uuid4().hex}",
                pure=False,
                retries=TASK_RETRIES,
            ): task
            for task in tasks
        }
        reports: dict[str, SeriesReport] = {}
        for future in distributed.as_completed(futures):
            task = futures[future]
            reports[task.series] = _report(future, task)
            if on_done is not None:
                on_done(reports[task.series])
    return [reports[task.series] for task in tasks]


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


def _getter(messages: Any) -> Callable[[float], Message | None]:
    def get(timeout: float) -> Message | None:
        try:
            item: Message = messages.get(timeout=max(timeout, 0.01))
        except Exception:  # a timeout: nothing came (or the cluster went away)
            return None
        return item

    return get
