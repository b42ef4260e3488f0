"""A real webhook receiver on 127.0.0.1 in a thread: answers 200, 503, or too slowly, and
records what it was sent; and the notifications a database's outbox holds."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import create_engine, text


@dataclass
class Received:
    """One request the receiver acknowledged."""

    path: str
    key: str | None
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """A webhook receiver: `mode` is "ok" (200, recorded), "fail" (503) or "slow" (answers
    after `slow_seconds`, 200 but unrecorded: the sender gave up already)."""

    def __init__(self, port: int = 0, *, mode: str = "ok", slow_seconds: float = 2.0) -> None:
        self.mode = mode
        self.slow_seconds = slow_seconds
        self.received: list[Received] = []
        self.requests = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests += 1
                    mode = receiver.mode
                if mode == "slow":
                    time.sleep(receiver.slow_seconds)
                    return self._answer(200)
                if mode == "fail":
                    return self._answer(503)
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            self.path,
                            self.headers.get("Idempotency-Key"),
                            json.loads(data),
                            dict(self.headers.items()),
                        )
                    )
                self._answer(200)

            def _answer(self, status: int) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender hung up (it timed out)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def keys(self) -> list[str | None]:
        with self.lock:
            return [r.key for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def outbox(url: str) -> list[tuple[str, int, Any]]:
    """(idempotency key, attempts, delivered_at) of every queued notification."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT idempotency_key, attempts, delivered_at FROM notification_outbox")
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
    except Exception:  # the daemon holds a write lock for a moment
        return []
    finally:
        engine.dispose()
