"""The unit lane's guard: unit tests must not load TensorFlow or Keras (slow to import, and the
sign of a test that trains or loads a real model: those belong in tests/integration).

A unit test module that imports them fails its collection, a unit test that imports them fails
at its teardown, and a run of unit tests only fails at its end if they got loaded at all."""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

HEAVY = ("tensorflow", "keras")
UNIT = Path(__file__).resolve().parent
FAILURE = pytest.StashKey[str]()


def heavy_loaded() -> set[str]:
    return {name for name in HEAVY if name in sys.modules}


def message(what: str, loaded: set[str]) -> str:
    names = " and ".join(sorted(loaded))
    return f"{what} imported {names}: unit tests must not; move the test to tests/integration"


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    before = heavy_loaded()
    report = yield
    loaded = heavy_loaded() - before
    if loaded and isinstance(collector, pytest.Module) and report.passed:
        report.outcome = "failed"
        report.longrepr = message(f"importing {collector.nodeid}", loaded)
    return report


@pytest.fixture(autouse=True)
def _no_tensorflow_in_unit_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    before = heavy_loaded()
    yield
    loaded = heavy_loaded() - before
    if loaded:
        pytest.fail(message(request.node.nodeid, loaded), pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # The catch-all for a run of unit tests only (in a run of every lane the other lanes load
    # TensorFlow on purpose): whatever loaded it (a conftest, a plugin, a session fixture).
    items = getattr(session, "items", [])
    if not items or not all(item.path.is_relative_to(UNIT) for item in items):
        return
    if loaded := heavy_loaded():
        session.config.stash[FAILURE] = message("this run of unit tests", loaded)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if failure := config.stash.get(FAILURE, None):
        terminalreporter.write_sep("=", failure, red=True, bold=True)
