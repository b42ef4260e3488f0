"""`forecaster notify-status`: how many notifications wait in the outbox, and why."""

from __future__ import annotations

from pipelines.cli.app import ConfigOption, VerboseOption, app, out


@app.command("notify-status")
def notify_status(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Notifications delivered, pending and failing (retried until acknowledged), the sinks."""
    from forecaster.db.repo.outbox import outbox_counts
    from forecaster.db.session import transaction
    from pipelines.cli.app import open_app_context

    context = open_app_context(config, verbose)
    try:
        with transaction(context.sessions) as session:
            counts = outbox_counts(session=session)
        sinks = [f"{s.name} ({s.type})" for s in context.settings.notify.sinks]
    finally:
        context.close()
    out.print(f"sinks: {', '.join(sinks) if sinks else 'none (notifications are off)'}")
    out.print(
        f"notifications: {counts.delivered} delivered, {counts.pending} pending, "
        f"{counts.failing} of them failed at least once",
        highlight=False,
    )
    if counts.last_error:
        out.print(f"last error: {counts.last_error}", highlight=False, soft_wrap=True)
