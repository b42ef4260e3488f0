"""`forecaster evaluate` end to end on a tiny synthetic labelled corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from tests.helpers.cli import run_cli
from tests.helpers.series import TINY_PIPELINE


def test_evaluate_scores_a_tiny_labelled_corpus(tmp_path: Path) -> None:
    data = tmp_path / "corpus"
    (data / "synthetic").mkdir(parents=True)
    windows = {}
    for k, spike in enumerate((800, None)):
        rng = np.random.default_rng(k)
        n = 1000
        index = pd.date_range("2024-01-01", periods=n, freq="5min")
        values = 5 + np.sin(np.arange(n) * 2 * np.pi / 144) + rng.normal(0, 0.1, n)
        key = f"synthetic/file{k}.csv"
        windows[key] = []
        if spike is not None:
            values[spike : spike + 4] += 4.0
            windows[key] = [[str(index[spike - 10]), str(index[spike + 10])]]
        pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(
            data / key, index=False
        )
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(windows))
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
