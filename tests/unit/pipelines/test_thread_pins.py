"""A worker's compute pools: pinned in local workers, defaulted where the operator chose none."""

from __future__ import annotations

import os

import pytest

from pipelines.executors.threads import THREAD_VARIABLES, default_threads, pin_threads


def unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pool variable, and each restored after the test (the functions set os.environ)."""
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_pinning_sets_every_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    unset(monkeypatch)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    pin_threads(2)
    assert {name: os.environ[name] for name in THREAD_VARIABLES} == dict.fromkeys(
        THREAD_VARIABLES, "2"
    )


def test_defaults_leave_the_pools_an_operator_set(monkeypatch: pytest.MonkeyPatch) -> None:
    unset(monkeypatch)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "4")  # a worker started on purpose with 4
    default_threads(1)
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "4"
    assert all(
        os.environ[name] == "1" for name in THREAD_VARIABLES if name != "TF_NUM_INTRAOP_THREADS"
    )
