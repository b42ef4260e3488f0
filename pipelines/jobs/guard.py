"""Run one series' work so that its failure becomes its report, and a run goes on."""

from __future__ import annotations

import logging
from collections.abc import Callable

from forecaster.errors import ForecasterError
from forecaster.messages import exception_summary
from pipelines.detect.run import SeriesReport

log = logging.getLogger(__name__)


def guarded(name: str, work: Callable[[], SeriesReport]) -> SeriesReport:
    """`work()`'s report on series `name`; a failure becomes the report's error, so a run
    goes on with the other series."""
    try:
        return work()
    except ForecasterError as exc:  # the series' data or model: its report says so
        log.info("series %s failed: %s", name, exc)
        return SeriesReport(series=name, error=str(exc))
    except Exception as exc:  # a bug: its traceback, and the others go on
        log.exception("series %s failed", name)
        return SeriesReport(series=name, error=exception_summary(exc))
