"""The pure pieces behind `forecaster demo` and `demo-feed`: the sample data and its labels,
matching found events, the feed's next points, and the directory the demo prepares."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecaster.errors import ForecasterError
from pipelines.demo.samples import FULL, QUICK, Injected, found, sample_series, synthetic_series
from pipelines.demo.tour import CONFIG_FILE, DB_FILE, HEADER, OUTPUT_DIR, prepare_directory


def test_prepare_directory_refuses_foreign_files_and_clears_its_own(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("database:\n  url: sqlite:///mine.db\n")
    with pytest.raises(ForecasterError, match="not written by `forecaster demo`"):
        prepare_directory(tmp_path)
    assert (tmp_path / CONFIG_FILE).exists()

    (tmp_path / CONFIG_FILE).unlink()
    (tmp_path / DB_FILE).write_bytes(b"")
    with pytest.raises(ForecasterError, match=r"forecaster\.db exists"):
        prepare_directory(tmp_path)

    (tmp_path / CONFIG_FILE).write_text(HEADER + "\n")
    (tmp_path / OUTPUT_DIR).mkdir()
    (tmp_path / OUTPUT_DIR / "old.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("kept")
    prepare_directory(tmp_path)
    assert not (tmp_path / DB_FILE).exists() and not (tmp_path / OUTPUT_DIR).exists()
    assert (tmp_path / "notes.txt").exists()
    with pytest.raises(ForecasterError, match="is a file, not a directory"):
        prepare_directory(tmp_path / "notes.txt")


def test_sample_data_is_deterministic_and_labelled() -> None:
    first, again = synthetic_series(QUICK), synthetic_series(QUICK)
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_series_equal(a.points, b.points)
        assert a.labels == b.labels
    for sample in synthetic_series(FULL):
        assert len(sample.points) == FULL.sensor_points
        kinds = {label.kind for label in sample.labels}
        assert kinds <= {"spike", "dip", "level shift", "drift", "stuck"}
        for label in sample.labels:
            assert sample.points.index[FULL.warmup] <= label.start <= label.end
    stuck = next(s for s in synthetic_series(FULL) if s.name == "boiler_temp")
    label = next(lb for lb in stuck.labels if lb.kind == "stuck")
    assert stuck.points[label.start : label.end].nunique() == 1
    vix = sample_series(QUICK)[-1]
    assert vix.name == "vix" and len(vix.points) == QUICK.vix_days
    assert all(vix.points.index[0] <= lb.start <= vix.points.index[-1] for lb in vix.labels)


def test_found_uses_overlap_with_tolerance() -> None:
    t = pd.Timestamp("2025-01-01 10:00", tz="UTC")
    labels = [
        Injected("s", "spike", t, t),
        Injected("s", "drift", t + pd.Timedelta(hours=20), t + pd.Timedelta(hours=30)),
    ]
    hour = pd.Timedelta(hours=1)
    events = [(t + 3 * hour, t + 4 * hour), (t + 31 * hour, t + 40 * hour)]
    assert found(labels, events, 3 * hour) == [True, True]
    assert found(labels, events, 0 * hour) == [False, False]
    assert found(labels, [], 3 * hour) == [False, False]


def test_demo_feed_continues_the_daily_cycle_and_spikes_the_sensors_in_turn() -> None:
    import numpy as np

    from pipelines.demo.feed import FeedState, next_tick

    index = pd.date_range("2025-01-01", periods=24 * 7, freq="h", tz="UTC")
    cycle = 70 + 4 * np.sin(2 * np.pi * np.arange(len(index)) / 24)
    state = FeedState(
        recent={name: pd.Series(cycle, index=index) for name in ("boiler_temp", "line_pressure")}
    )
    rng = np.random.default_rng(0)
    ticks = [next_tick(state, rng, spike_every=2) for _ in range(4)]
    assert [t.spiked for t in ticks] == [None, "boiler_temp", None, "line_pressure"]
    for k, tick in enumerate(ticks):
        at, value = tick.points["boiler_temp"]
        assert at == index[-1] + pd.Timedelta(hours=k + 1)
        expected = 70 + 4 * np.sin(2 * np.pi * (len(index) + k) / 24)  # the same hour as before
        spike = 12 * 0.3 + 4.0 if tick.spiked == "boiler_temp" else 0.0
        assert abs(value - expected - spike) < 5 * 0.3
