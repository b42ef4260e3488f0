"""Where the tests find the repository, the shared data, and whether a missing one fails."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("FORECASTER_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

# In CI (FORECASTER_TEST_STRICT=1 or CI=true) a missing PostgreSQL server or missing shared data
# fails the run instead of skipping tests.
STRICT = os.environ.get("FORECASTER_TEST_STRICT") == "1" or os.environ.get("CI") == "true"
