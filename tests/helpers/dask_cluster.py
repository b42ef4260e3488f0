"""A real local Dask cluster for a test: `dask scheduler` and `dask worker` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DASK = Path(sys.executable).parent / "dask"


@dataclass
class LocalCluster:
    address: str
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)


@contextmanager
def local_cluster(directory: Path, workers: int = 2) -> Iterator[LocalCluster]:
    """A scheduler on a free port and `workers` one-thread worker processes, started in
    `directory` (their logs land there) and stopped afterwards."""
    # No thread variables: the workers' environment is what a plain `dask worker` has (Dask
    # pins BLAS to one thread itself; each task pins TensorFlow's pools).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORECASTER_", "TF_NUM_"))}
    file = directory / "scheduler.json"
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str, log: str) -> subprocess.Popen[bytes]:
        out = open(directory / log, "wb")  # noqa: SIM115 - closed with the process below
        process = subprocess.Popen(
            [str(DASK), *args], cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        processes.append(process)
        return process

    try:
        start(
            "scheduler",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(file),
            log="scheduler.log",
        )
        address = _wait_for_address(file)
        cluster = LocalCluster(address=address)
        for k in range(workers):
            cluster.workers.append(
                start(
                    "worker",
                    "--scheduler-file",
                    str(file),
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--name",
                    f"w{k}",
                    log=f"worker{k}.log",
                )
            )
        _wait_for_workers(address, workers)
        yield cluster
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for_address(file: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if file.exists():
            try:
                return str(json.loads(file.read_text())["address"])
            except (ValueError, KeyError):
                pass  # half written
        time.sleep(0.1)
    raise AssertionError(f"the Dask scheduler wrote no {file} within {timeout} s")


def _wait_for_workers(address: str, count: int, timeout: float = 90) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=timeout)
