"""Collect a run's series reports as their tasks finish, in the tasks' order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from pipelines.detect.run import SeriesReport
from pipelines.executors.task import SeriesTask


def in_task_order(
    tasks: Sequence[SeriesTask],
    finished: Iterable[tuple[SeriesTask, SeriesReport]],
    on_done: Callable[[SeriesReport], None] | None,
) -> list[SeriesReport]:
    """Every task's report, in `tasks` order; `on_done` as each one finishes."""
    reports: dict[str, SeriesReport] = {}
    for task, report in finished:
        reports[task.series] = report
        if on_done is not None:
            on_done(report)
    return [reports[task.series] for task in tasks]
