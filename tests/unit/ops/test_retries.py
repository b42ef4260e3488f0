"""Database retries are told to `on_retry` (the daemon's metrics count them), one call per
retry, with the driver's reason; a step that succeeds at once is not a retry."""

from __future__ import annotations

import threading

from forecaster.errors import DatabaseError
from pipelines.daemon.retry import Retrying


def test_every_retry_is_reported_with_its_reason() -> None:
    reasons: list[str] = []
    retrying = Retrying("sqlite:///x.db", 30, threading.Event(), on_retry=reasons.append)
    attempts = iter([DatabaseError("database is locked"), None])

    def step() -> str:
        failure = next(attempts)
        if failure is not None:
            raise failure
        return "done"

    assert retrying(step) == "done"  # after one 0.5 s backoff
    assert reasons == ["database is locked"]
    assert retrying(lambda: 1) == 1
    assert reasons == ["database is locked"]
