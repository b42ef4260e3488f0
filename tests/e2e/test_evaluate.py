"""`forecaster evaluate` end to end on a tiny synthetic labelled corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tests.helpers.cli import run_cli
from tests.helpers.series import TINY_PIPELINE

ROOT = Path(__file__).resolve().parents[2]  # the repository root


def tiny_corpus(tmp_path: Path) -> tuple[Path, Path]:
    """Two synthetic 5-minute files, one with a labelled burst, and their labels."""
    data = tmp_path / "corpus"
    (data / "synthetic").mkdir(parents=True)
    windows: dict[str, list[list[str]]] = {}
    for k, spike in enumerate((800, None)):
        rng = np.random.default_rng(k)
        index = pd.date_range("2024-01-01", periods=1000, freq="5min")
        values = 5 + np.sin(np.arange(1000) * 2 * np.pi / 144) + rng.normal(0, 0.1, 1000)
        key = f"synthetic/file{k}.csv"
        windows[key] = []
        if spike is not None:
            values[spike : spike + 4] += 4.0
            windows[key] = [[str(index[spike - 10]), str(index[spike + 10])]]
        pd.DataFrame({"timestamp": index, "value": values}).to_csv(data / key, index=False)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(windows))
    return data, labels


def test_evaluate_scores_a_tiny_labelled_corpus(tmp_path: Path) -> None:
    data, labels = tiny_corpus(tmp_path)
    config = {"pipelines": [TINY_PIPELINE]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))

    result = run_cli(
        "evaluate",
        "--data",
        str(data),
        "--labels",
        str(labels),
        "--out",
        "report.json",
        cwd=tmp_path,
    )
    assert "NAB standard" in result.stdout and "baseline" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    total = report["forecaster"]["total"]
    assert total["events"]["windows"] == 1
    assert total["events"]["windows_found"] == 1  # the burst is detected
    assert report["failed_series"] == {}
    assert not (tmp_path / "forecaster.db").exists()  # a scratch database, not the user's

    bad = run_cli(
        "evaluate",
        "--data",
        str(tmp_path / "nowhere"),
        "--labels",
        str(labels),
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 1 and "nowhere" in bad.stderr


def write_config(tmp_path: Path, **detection: object) -> None:
    pipeline = {**TINY_PIPELINE, "detection": {**TINY_PIPELINE["detection"], **detection}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"pipelines": [pipeline]}))


def test_evaluate_reuses_kept_predictions_with_other_detection_settings(tmp_path: Path) -> None:
    data, labels = tiny_corpus(tmp_path)
    args = ("evaluate", "--data", str(data), "--labels", str(labels), "--workdir", "kept")
    write_config(tmp_path)
    run_cli(*args, "--out", "first.json", cwd=tmp_path)
    assert (tmp_path / "kept" / "evaluate.db").is_file()

    # The same detection settings on the kept predictions: the same report, no training.
    reused = run_cli(*args, "--reuse-predictions", "--out", "again.json", cwd=tmp_path)
    assert "NAB standard" in reused.stdout
    first = json.loads((tmp_path / "first.json").read_text())
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["forecaster"] == first["forecaster"]

    # Stricter detection: the burst's score must pass 0.99999999, so fewer or no events.
    write_config(tmp_path, min_score=0.99999999, range={"enabled": False})
    run_cli(*args, "--reuse-predictions", "--out", "strict.json", cwd=tmp_path)
    strict = json.loads((tmp_path / "strict.json").read_text())
    assert (
        strict["forecaster"]["total"]["events"]["events"]
        < first["forecaster"]["total"]["events"]["events"]
    )

    # Predictions made with another model cannot be reused; nor without a workdir.
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {"pipelines": [{**TINY_PIPELINE, "model": {**TINY_PIPELINE["model"], "units": 4}}]}
        )
    )
    other = run_cli(*args, "--reuse-predictions", cwd=tmp_path, check=False)
    assert other.returncode == 1 and "model changed" in other.stderr
    bare = run_cli(*args[:-2], "--reuse-predictions", cwd=tmp_path, check=False)
    assert bare.returncode == 1 and "--reuse-predictions needs --workdir" in bare.stderr


def test_bench_evaluate_reports_the_spread_over_seeds(tmp_path: Path) -> None:
    data, labels = tiny_corpus(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"pipelines": [TINY_PIPELINE]}))
    out = tmp_path / "quality.json"
    command = [sys.executable, "-m", "bench.evaluate", "--data", str(data)]
    command += ["--labels", str(labels), "--config", str(config), "--seeds", "0,1"]
    command += ["--workdir", str(tmp_path / "work"), "--json", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    reports = json.loads(out.read_text())
    assert [r["seed"] for r in reports] == [0, 1]
    assert all(r["forecaster"]["total"]["events"]["windows"] == 1 for r in reports)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["seed-0", "seed-1"]
    spread = [line for line in done.stdout.splitlines() if line.startswith(("| 0 ", "| 1 "))]
    assert len(spread) == 2 and "| median |" in done.stdout

    bad = subprocess.run([*command[:-2], "--seeds", "x"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "not a list of integer seeds" in bad.stderr
