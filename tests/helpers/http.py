"""HTTP for tests of the daemon's endpoints and webhooks: a plain GET (the status and body,
errors too) and a free port where nothing listens yet."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request


def get(url: str) -> tuple[int, str]:
    """GET `url` (never through a proxy); 4xx and 5xx answers are returned, not raised."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def free_port() -> int:
    """A TCP port nothing listens on now (connecting to it is refused until a server starts)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])
