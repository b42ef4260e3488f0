"""Pin a worker process's TensorFlow and BLAS thread pools before they start."""

from __future__ import annotations

import os

THREAD_VARIABLES = (
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def pin_threads(threads: int) -> None:
    """Give this process `threads` compute threads: N workers x the default (one pool per
    core each) would oversubscribe the cores. Runs before numpy or TensorFlow is imported."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


def default_threads(threads: int) -> None:
    """`pin_threads`, but only for the pools this process's environment leaves unset: a Dask
    worker is started by its operator, whose settings win (Dask itself sets the BLAS ones to 1,
    and nothing sets TensorFlow's, whose default is one thread per core in every worker).
    Has no effect on a pool that already started (TensorFlow imported by an earlier task)."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
