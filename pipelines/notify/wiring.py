"""What a command that notifies adds to its run: the outbox sink around the database sink and
the sender that delivers after commit (nothing at all without `notify.sinks`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from forecaster.config.pipeline import PipelineSettings
from forecaster.db.repo.outbox import OutboxCounts, outbox_counts
from forecaster.db.session import transaction
from forecaster.errors import ConfigError
from pipelines.context import AppContext
from pipelines.daemon.companions import Companion
from pipelines.detect.run import StepIO, cached_io
from pipelines.detect.sink import SinkFactory, database_sink
from pipelines.notify.companion import NotifyCompanion
from pipelines.notify.outbox_sink import with_outbox
from pipelines.notify.sender import Pass, Sender, drain


@dataclass(frozen=True)
class Notifications:
    """The sink a run writes its steps through, and the companions that send."""

    sink: SinkFactory = database_sink
    companions: list[Companion] = field(default_factory=list)


def daemon_notifications(context: AppContext, *, once: bool = False) -> Notifications:
    """The daemon's: events queue notifications when `notify.sinks` are configured, and a
    sender thread delivers them (`once`: and sends what is due before the daemon exits)."""
    notify = context.settings.notify
    if not notify.enabled:
        return Notifications()
    sender = Sender(context.sessions, notify, clock=context.clock)
    return Notifications(
        sink=with_outbox(context.settings, database_sink),
        companions=[
            NotifyCompanion(
                sender,
                poll_seconds=notify.poll_seconds,
                final_drain_seconds=notify.drain_seconds if once else 0.0,
            )
        ],
    )


def backfill_io(context: AppContext, pipeline: PipelineSettings, *, notify: bool) -> StepIO:
    """A backfill's reads and writes: the database's, each chunk's context served from the
    chunk before it (a memory per call: one per series), its sink wrapped to queue
    notifications when asked (`backfill --notify`)."""
    io = cached_io(context, pipeline)
    return replace(io, sink=with_outbox(context.settings, io.sink)) if notify else io


def require_sinks(context: AppContext) -> None:
    """`--notify` without a sink to send to is a mistake, said at once."""
    if not context.settings.notify.enabled:
        raise ConfigError("--notify needs at least one sink in the config's notify.sinks")


def drain_outbox(context: AppContext) -> tuple[Pass, OutboxCounts]:
    """Send what is due for at most `notify.drain_seconds`; what was sent and what
    is left in the outbox."""
    notify = context.settings.notify
    sender = Sender(context.sessions, notify, clock=context.clock)
    sent = drain(sender, notify.drain_seconds, time.monotonic)
    with transaction(context.sessions) as session:
        return sent, outbox_counts(session=session)
