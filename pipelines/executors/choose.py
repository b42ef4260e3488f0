"""Pick the executor a run's settings ask for and run the series' tasks on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from forecaster.config.executor import ExecutorSettings
from forecaster.errors import ConfigError
from pipelines.context import AppContext
from pipelines.detect.run import SeriesReport
from pipelines.executors.task import SeriesProgress, SeriesTask


def run_tasks(
    context: AppContext,
    tasks: Sequence[SeriesTask],
    executor: ExecutorSettings,
    *,
    on_series: SeriesProgress | None = None,
    on_done: Callable[[SeriesReport], None] | None = None,
) -> list[SeriesReport]:
    """Each task's report, in task order: on Dask when an address is set, in worker
    processes when more than one worker (and series) is asked for, else in this process."""
    if executor.dask is not None:
        from pipelines.executors.dask_cluster import run_on_dask

        return run_on_dask(
            context.settings,
            tasks,
            address=executor.dask,
            threads=executor.threads_per_worker,
            on_series=on_series,
            on_done=on_done,
        )
    if executor.workers > 1 and len(tasks) > 1:
        from pipelines.executors.processes import run_in_processes

        _check_shareable(context)
        return run_in_processes(
            context.settings,
            tasks,
            workers=executor.workers,
            threads=executor.threads_per_worker,
            on_series=on_series,
            on_done=on_done,
        )
    from pipelines.executors.local import run_here

    return run_here(context, tasks, on_series=on_series, on_done=on_done)


def _check_shareable(context: AppContext) -> None:
    """Worker processes open the database themselves: an in-memory SQLite one is not theirs."""
    url = context.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise ConfigError(
            "workers > 1 needs a database the worker processes can open: an in-memory SQLite "
            "database is private to this process (use a file or PostgreSQL, or one worker)"
        )
