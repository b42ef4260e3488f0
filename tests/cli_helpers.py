"""Run the real `forecaster` console script as a subprocess, as users do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FORECASTER = Path(sys.executable).parent / "forecaster"


def run_cli(
    *args: str, cwd: Path, db_url: str | None = None, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `forecaster ARGS` in `cwd`; with `check`, fail the test showing its output on error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")}
    env["COLUMNS"] = "200"  # keep rich from wrapping messages the tests match
    if db_url is not None:
        env["FORECASTER_DATABASE_URL"] = db_url
    result = subprocess.run(
        [str(FORECASTER), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"forecaster {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result
