"""`python -m bench all --quick` runs end to end and reports every headline figure (no timing
is asserted: figures live in bench/, not in tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository root


@pytest.mark.slow
def test_bench_all_quick_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "bench", "all", "--quick", "--skip-quality"]
    command += ["--backends", "sqlite", "--json", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)
    report = json.loads(out.read_text())
    assert {"machine", "backfill", "memory", "figures", "seconds"} <= set(report)
    (backfill,) = report["backfill"]["results"]
    assert backfill["backend"] == "sqlite"
    assert backfill["models_trained"] == 0  # the measured backfill only scores
    assert backfill["points_scored"] > 0
    memory = report["memory"]["result"]
    assert memory["models_trained"] == 0
    assert memory["peak_rss_mib"] >= memory["peak_rss_before_backfill_mib"] > 0
    names = [f["figure"] for f in report["figures"]]
    assert any(n.startswith("backfill / bare network (sqlite)") for n in names)
    assert any(n.startswith("large backfill peak RSS") for n in names)
    assert all(f["value"] is not None and f["text"] for f in report["figures"])
