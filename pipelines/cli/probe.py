"""`forecaster probe`: ask a running daemon's /healthz or /readyz, for systemd and scripts."""

from __future__ import annotations

from typing import Annotated

import typer

from forecaster.errors import ConfigError
from pipelines.cli.app import ConfigOption, VerboseOption, app, err, out, settings_from


@app.command("probe")
def probe(
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            help="The daemon's metrics port (default: daemon.metrics_port).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="The daemon's host (default: daemon.metrics_host; 0.0.0.0 asks 127.0.0.1).",
            show_default=False,
        ),
    ] = None,
    ready: Annotated[
        bool, typer.Option("--ready", help="Ask /readyz (default: /healthz).")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0, help="Ask again for up to this many seconds until the answer is ok."
        ),
    ] = 0.0,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for one answer.")
    ] = 5.0,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Exit 0 when the daemon is alive (with --ready: ready to serve), else 1; one line says
    why. Reads the config only for the port and host not given."""
    from pipelines.ops.probe import probe as ask
    from pipelines.ops.probe import probe_url

    if port is None or host is None:
        daemon = settings_from(config, verbose).daemon
        port = port or daemon.metrics_port
        host = host or daemon.metrics_host
    if port is None:
        raise ConfigError("no port to ask: give --port or set daemon.metrics_port in the config")
    result = ask(probe_url(host, port, ready=ready), timeout=timeout, wait=wait)
    if not result.ok:
        err.print(result.message, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(result.message, markup=False, highlight=False, soft_wrap=True)
