"""Ask a running daemon's health endpoint over HTTP (`forecaster probe`): stdlib only, so a
probe starts in a fraction of a second."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass

# Addresses a server listens on for every interface, and the local address to ask instead.
_LOCAL = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str  # one line


def probe_url(host: str, port: int, *, ready: bool) -> str:
    host = _LOCAL.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/{'readyz' if ready else 'healthz'}"


def ask(url: str, timeout: float) -> ProbeResult:
    """One GET of `url`: ok on a 2xx answer; the answer's first line, or why none came."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=timeout) as answer:
            return ProbeResult(True, _first_line(answer.read()) or f"{url}: {answer.status}")
    except urllib.error.HTTPError as exc:
        body = _first_line(exc.read())
        return ProbeResult(False, body or f"{url} answered {exc.code} {exc.reason}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return ProbeResult(False, f"cannot reach {url}: {reason}")


def probe(url: str, *, timeout: float, wait: float) -> ProbeResult:
    """Ask `url`, again every half second for up to `wait` seconds while the answer is not ok
    (a daemon just started has not bound its port or finished its first cycle yet)."""
    deadline = time.monotonic() + wait
    while True:
        result = ask(url, timeout)
        if result.ok or time.monotonic() >= deadline:
            return result
        time.sleep(min(0.5, max(deadline - time.monotonic(), 0.0)))


def _first_line(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else ""
