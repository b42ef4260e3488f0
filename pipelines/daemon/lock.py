"""One daemon per SQLite database: an exclusive lock file next to it, released on exit or death."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import Engine

from forecaster.errors import DaemonAlreadyRunning


def lock_path(engine: Engine) -> Path | None:
    """The lock file of an SQLite database file; None for other databases and :memory:."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve().with_name(Path(url.database).name + ".daemon.lock")


@contextmanager
def sqlite_daemon_lock(engine: Engine) -> Iterator[None]:
    """Hold the lock while the daemon runs. The kernel drops it when the process ends, even
    by kill -9, so a crashed daemon never blocks the next one."""
    path = lock_path(engine)
    if path is None:
        yield
        return
    handle = open(path, "a+")  # noqa: SIM115 - held for the daemon's lifetime
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise DaemonAlreadyRunning(
                f"another forecaster daemon ({holder}) is already running on the SQLite database "
                f"{engine.url.database}; SQLite supports one daemon per database file (use "
                "PostgreSQL to run several replicas)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()
