"""A small HTTP server in a daemon thread (stdlib ThreadingHTTPServer): fixed GET routes, each
a function giving the response; nothing else is served."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from forecaster.errors import ForecasterError

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = TEXT


Route = Callable[[], Response]


def handler_for(routes: Mapping[str, Route]) -> type[BaseHTTPRequestHandler]:
    """A request handler answering GET on `routes` (404 elsewhere, 500 if a route raises)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(urlsplit(self.path).path)
            if route is None:
                response = Response(404, b"not found: try /metrics, /healthz or /readyz\n")
            else:
                try:
                    response = route()
                except Exception:  # a bug in a route: the scrape fails, the daemon goes on
                    log.exception("%s failed", self.path)
                    response = Response(500, b"internal error (see the daemon's log)\n")
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http %s: " + format, self.address_string(), *args)

    return Handler


class ProbeServer:
    """Serves `routes` on host:port from `start()` until `stop()`."""

    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        self.host = host
        self.requested_port = port
        self.routes = dict(routes)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the requested one)."""
        return self._server.server_address[1] if self._server else self.requested_port

    def start(self) -> None:
        server_type = ThreadingHTTPServer
        if ":" in self.host:  # an IPv6 address such as ::1 or ::

            class IPv6Server(ThreadingHTTPServer):
                address_family = socket.AF_INET6

            server_type = IPv6Server
        try:
            server = server_type((self.host, self.requested_port), handler_for(self.routes))
        except OSError as exc:
            raise ForecasterError(self._bind_error(exc)) from None
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="metrics-http", daemon=True
        )
        self._thread.start()

    def _bind_error(self, exc: OSError) -> str:
        where = f"{self.host}:{self.requested_port}"
        if exc.errno == errno.EADDRINUSE:
            return (
                f"metrics port {where} is already in use (another daemon or program listens "
                "there; choose another --metrics-port or daemon.metrics_port)"
            )
        reason = exc.strerror or str(exc)
        return f"cannot listen on {where} (daemon.metrics_host / metrics_port): {reason}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
