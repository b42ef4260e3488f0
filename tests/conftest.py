"""Shared fixtures: a real SQLite file and a real PostgreSQL database per test run (defined in
tests/helpers/databases.py), the shared data directory, and the order of the lanes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Helpers hold assertions too (e.g. helpers.plots.assert_png): rewrite them like test modules.
pytest.register_assert_rewrite("tests.helpers")

from tests.helpers.paths import SHARED_DATA, STRICT  # noqa: E402

# Property tests explore new random examples on every local run (and keep the failures they
# find in .hypothesis/); in CI they run a fixed set, so a landing never hangs on a new draw.
settings.register_profile("ci", derandomize=True)
if STRICT:
    settings.load_profile("ci")

# Only the root conftest may load plugins: the database fixtures, for the integration and e2e
# lanes (unit tests never request them).
pytest_plugins = ["tests.helpers.databases"]

TESTS = Path(__file__).resolve().parent
LANES = ("unit", "integration", "e2e")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the lanes in order, unit first: the fastest feedback first, and the unit lane's guard
    (tests/unit/conftest.py) sees a process that no other lane has loaded TensorFlow into."""

    def lane(item: pytest.Item) -> int:
        parts = item.path.relative_to(TESTS).parts if item.path.is_relative_to(TESTS) else ()
        return LANES.index(parts[0]) if parts and parts[0] in LANES else len(LANES)

    items.sort(key=lane)  # stable: the order inside each lane is pytest's own


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        message = f"the shared data directory {SHARED_DATA} is missing"
        if STRICT:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return SHARED_DATA
