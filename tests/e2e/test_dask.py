"""`forecaster backfill --dask` on a real local cluster (a scheduler and two worker processes)
and PostgreSQL: the rows of a single-process backfill, even when a worker is killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.helpers.cli import FORECASTER, run_cli
from tests.helpers.dask_cluster import local_cluster
from tests.helpers.databases import PostgresServer
from tests.helpers.series import wait_for_forecasts
from tests.helpers.several import SERIES, prepared, rows_by_series, write_three


def test_a_dask_cluster_writes_the_rows_of_one_process_even_when_a_worker_dies(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    data = write_three(tmp_path)
    one = pg_server.create_database("one")
    run_cli("backfill", cwd=prepared(tmp_path / "one", one, data))
    expected = rows_by_series(one)

    url = pg_server.create_database("dask")
    work = prepared(tmp_path / "dask", url, data)
    (tmp_path / "cluster").mkdir()
    with local_cluster(tmp_path / "cluster", workers=2) as cluster:
        process = subprocess.Popen(
            [str(FORECASTER), "backfill", "--dask", cluster.address],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # A worker dies once some chunks committed: its task reruns on the other one.
        wait_for_forecasts(url, 1, running=lambda: process.poll() is None)
        cluster.workers[0].send_signal(signal.SIGKILL)
        output, _ = process.communicate(timeout=600)
        pools = worker_variable(cluster.address, "TF_NUM_INTRAOP_THREADS")
    assert process.returncode == 0, output
    # Workers started without thread variables run TensorFlow on threads_per_worker (1)
    # thread, not one per core each.
    assert pools and set(pools.values()) == {"1"}, pools
    for name in SERIES:
        assert name in output
    assert rows_by_series(url) == expected


def worker_variable(address: str, name: str) -> dict[str, str | None]:
    """The environment variable `name` in each live worker of the cluster."""
    from distributed import Client

    with Client(address, timeout="30s") as client:
        # os.getenv is pickled by reference; os.environ.get would carry this process's environ.
        values: dict[str, str | None] = client.run(os.getenv, name)
    return values


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    work = prepared(tmp_path / "x", url, write_three(tmp_path)[:1])
    result = run_cli("backfill", "--dask", "tcp://127.0.0.1:9", cwd=work, check=False)
    assert result.returncode == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr
    bad = run_cli("backfill", "--dask", "localhost", cwd=work, check=False)
    assert bad.returncode == 1 and "not a scheduler address" in bad.stderr
