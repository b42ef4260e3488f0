"""Send the outbox's due notifications after commit: POST each with its idempotency key, mark
a 2xx delivered and anything else failed with exponential backoff."""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.notify import NotifySettings, SinkSettings
from forecaster.db.repo.outbox import (
    Claimed,
    claim_due,
    mark_delivered,
    mark_failed,
    next_due,
)
from forecaster.db.session import transaction
from pipelines.context import Clock

log = logging.getLogger(__name__)

HOLD_MARGIN_SECONDS = 30.0  # a claim outlives its POST's timeout by this much


def post(sink: SinkSettings, payload: str, key: str) -> str | None:
    """POST `payload` to the sink; None when acknowledged (2xx), else why not."""
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "User-Agent": "forecaster-notify",
        **sink.headers,
    }
    request = urllib.request.Request(
        sink.url, data=payload.encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=sink.timeout_seconds) as response:
            response.read(65536)
            status = int(response.status)
    except urllib.error.HTTPError as exc:  # 4xx, 5xx (and redirects, which are not followed)
        return f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return f"unreachable: {exc.reason}"
    except TimeoutError:
        return f"no answer within {sink.timeout_seconds:g} s"
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if 200 <= status < 300 else f"HTTP {status}"


@dataclass
class Pass:
    """What one pass over the due notifications did."""

    delivered: int = 0
    failed: int = 0


class Sender:
    """Delivers due notifications one at a time, each claimed in a short transaction and
    recorded in another, so that no transaction stays open during a POST."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: NotifySettings,
        *,
        clock: Clock,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock

    def deliver_due(self, *, should_stop: Callable[[], bool] | None = None) -> Pass:
        """Send every due notification once; a sink that fails gets no more tries in this
        pass (its next ones wait for their backoff or the next pass)."""
        done = Pass()
        sinks = [s.name for s in self.settings.sinks]
        while sinks and not (should_stop is not None and should_stop()):
            claimed = self._claim(sinks)
            if claimed is None:
                break
            sink = self.settings.sink(claimed.sink)
            assert sink is not None  # claimed among the configured sinks
            error = post(sink, claimed.payload, claimed.idempotency_key)
            self._record(claimed, error)
            if error is None:
                done.delivered += 1
            else:
                done.failed += 1
                sinks.remove(sink.name)
        return done

    def next_due(self) -> datetime | None:
        """When the next undelivered notification is due (None: the outbox is empty)."""
        with transaction(self.sessions) as session:
            return next_due(session=session, sinks=[s.name for s in self.settings.sinks])

    def _claim(self, sinks: list[str]) -> Claimed | None:
        longest = max(s.timeout_seconds for s in self.settings.sinks)
        hold = timedelta(seconds=longest + HOLD_MARGIN_SECONDS)
        with transaction(self.sessions) as session:
            return claim_due(session=session, sinks=sinks, now=self.clock(), hold=hold)

    def _record(self, claimed: Claimed, error: str | None) -> None:
        now = self.clock()
        with transaction(self.sessions) as session:
            if error is None:
                mark_delivered(session=session, outbox_id=claimed.id, now=now)
                log.info("notified %s: %s", claimed.sink, claimed.idempotency_key)
                return
            attempts = claimed.attempts + 1
            retry = self.settings.retry
            delay = retry.delay(attempts)
            mark_failed(
                session=session,
                outbox_id=claimed.id,
                error=error,
                next_attempt_at=now + timedelta(seconds=delay),
            )
        level = logging.WARNING if attempts >= retry.warn_after_attempts else logging.INFO
        log.log(
            level,
            "notification %s to %s failed (attempt %d, next in %.3g s): %s",
            claimed.idempotency_key,
            claimed.sink,
            attempts,
            delay,
            error,
        )


def drain(sender: Sender, seconds: float, clock: Callable[[], float]) -> Pass:
    """Passes over the due notifications until none is due or `seconds` passed (the last
    POST in hand finishes); what failed stays queued for the daemon."""
    deadline = clock() + seconds
    total = Pass()
    while clock() < deadline:
        done = sender.deliver_due(should_stop=lambda: clock() >= deadline)
        total.delivered += done.delivered
        total.failed += done.failed
        if done.delivered == 0:
            break
    return total
