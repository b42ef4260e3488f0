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


def heavy_modules_loaded(
    argv: list[str], heavy: set[str], imports: tuple[str, ...] = ()
) -> tuple[str, list[str]]:
    """Run `forecaster ARGV` in a fresh interpreter after importing `imports`; returns its
    output and which of the `heavy` top-level modules were loaded by then."""
    probe = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in imports)
        + "from pipelines.cli.main import main\n"
        f"sys.argv = ['forecaster', *{argv!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        f"print('HEAVY', ','.join(sorted(loaded & set({sorted(heavy)!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    output, _, loaded = result.stdout.rpartition("HEAVY ")
    return output, [name for name in loaded.strip().split(",") if name]
