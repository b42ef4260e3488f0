"""The daemon as a process, waiting on it, and a TCP proxy that makes the database go away."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.helpers.cli import FORECASTER


def start_daemon(
    work: Path, log_name: str = "daemon.log", args: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """`forecaster daemon ARGS` in `work`, its output in work/log_name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")}
    log = open(work / log_name, "wb")  # noqa: SIM115 - closed by the child's exit
    return subprocess.Popen(
        [str(FORECASTER), "daemon", *args], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def count_rows(url: str, table: str) -> int:
    """Rows in one of the service's tables (0 while the database is unreachable)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


def wait_for(
    condition: Any, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the daemon exited early with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the daemon")
        time.sleep(0.05)


class TcpProxy:
    """A local TCP forwarder to a port; `cut` drops every connection and refuses new ones
    (the database 'goes away'), `restore` accepts again."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        self.accepting = True
        self.cuts = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.accepting:
                client.close()  # connection refused, as far as the client can tell
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cuts += 1
        self._drop_all()

    def _drop_all(self) -> None:
        self.accepting = False
        with self.lock:
            for s in self.open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.open.clear()

    def restore(self) -> None:
        self.accepting = True

    def close(self) -> None:
        self.closed = True
        self._drop_all()
        self.listener.close()
