"""`forecaster demo` end to end, `forecaster plot`, and the pieces behind them."""

from __future__ import annotations

import shlex
import shutil
import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db.tables import Anomaly, AnomalyEvent, Forecast, Observation, Series
from forecaster.db.time_range import TimeRange
from forecaster.errors import ForecasterError
from pipelines.demo.samples import FULL, QUICK, Injected, found, sample_series, synthetic_series
from pipelines.demo.tour import CONFIG_FILE, DB_FILE, HEADER, OUTPUT_DIR, prepare_directory
from pipelines.plot.data import load_plot_data
from pipelines.plot.render import Page, html_page, render_png
from tests.cli_helpers import heavy_modules_loaded, run_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400, image.shape


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One `forecaster demo --quick` run shared by the tests of this module: (dir, stdout)."""
    base = tmp_path_factory.mktemp("demo")
    directory = base / "demo run"  # a space: the printed commands must quote the path
    result = run_cli("demo", "--quick", "--dir", str(directory), cwd=base, timeout=600)
    return directory, result.stdout


@pytest.mark.slow
def test_quick_demo_finds_most_injected_anomalies(quick_demo: tuple[Path, str]) -> None:
    directory, stdout = quick_demo
    with sqlite3.connect(directory / DB_FILE) as db:
        assert db.execute("SELECT count(*) FROM anomalies").fetchone()[0] > 0
        assert db.execute("SELECT count(DISTINCT series_id) FROM forecasts").fetchone()[0] == 5
        events = db.execute(
            "SELECT s.name, e.start_ts, e.end_ts FROM anomaly_events e "
            "JOIN series s ON s.id = e.series_id"
        ).fetchall()
    spans: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    for name, start, end in events:
        spans.setdefault(name, []).append(
            (pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))
        )
    hits, total = 0, 0
    for sample in synthetic_series(QUICK):
        total += len(sample.labels)
        tolerance = pd.Timedelta(hours=3)
        for label in sample.labels:
            hits += any(
                start <= label.end + tolerance and end >= label.start - tolerance
                for start, end in spans.get(sample.name, [])
            )
        found_text = f"{sum(found(sample.labels, spans.get(sample.name, []), tolerance))} of "
        assert found_text + f"{len(sample.labels)} injected" in stdout
    assert hits > total / 2, f"only {hits} of {total} injected anomalies found"
    assert "vix" in stdout and "known market shocks" in stdout


@pytest.mark.slow
def test_quick_demo_prints_queries_that_run(quick_demo: tuple[Path, str]) -> None:
    directory, stdout = quick_demo
    commands = [shlex.split(line) for line in stdout.splitlines() if line.startswith("sqlite3 ")]
    assert len(commands) == 3
    tables = set()
    for command in commands:
        path, sql = command[-2], command[-1]
        assert Path(path) == directory / DB_FILE
        with sqlite3.connect(path) as db:
            rows = db.execute(sql).fetchall()
        assert rows, sql
        tables |= {t for t in ("anomalies", "anomaly_events", "forecasts") if f"FROM {t}" in sql}
    assert tables == {"anomalies", "anomaly_events", "forecasts"}
    # The config it wrote works for the other commands.
    status = run_cli("status", "-c", str(directory / CONFIG_FILE), cwd=directory.parent)
    assert "pipeline demo: 5 series" in status.stdout


@pytest.mark.slow
def test_quick_demo_draws_every_series(quick_demo: tuple[Path, str]) -> None:
    directory, _ = quick_demo
    output = directory / OUTPUT_DIR
    for sample in sample_series(QUICK):
        assert_png(output / f"{sample.name}.png")
    index = (output / "index.html").read_text()
    assert "boiler_temp.png" in index and "top events by peak score" in index


@pytest.mark.slow
def test_plot_command(quick_demo: tuple[Path, str], tmp_path: Path) -> None:
    directory, _ = quick_demo
    config = ("-c", str(directory / CONFIG_FILE))
    png = tmp_path / "vix.png"
    drawn = run_cli(
        "plot",
        *config,
        "--series",
        "vix",
        "--start",
        "2024-01-01",
        "--out",
        str(png),
        cwd=tmp_path,
    )
    assert "vix" in drawn.stdout
    assert_png(png)

    unknown = run_cli(
        "plot", *config, "--series", "nope", "--out", str(png), cwd=tmp_path, check=False
    )
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "no series named 'nope'" in unknown.stderr

    empty = run_cli(
        "plot",
        *config,
        "--series",
        "vix",
        "--start",
        "1980-01-01",
        "--end",
        "1980-02-01",
        "--out",
        str(png),
        cwd=tmp_path,
        check=False,
    )
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert "series 'vix' has no observations between 1980-01-01" in empty.stderr

    neither = run_cli("plot", *config, "--series", "vix", cwd=tmp_path, check=False)
    assert neither.returncode == 1 and "give --out FILE.png" in neither.stderr

    html = run_cli("plot", *config, "--html", str(tmp_path / "report"), cwd=tmp_path)
    assert "5 series" in html.stdout
    for name in ("boiler_temp", "vix"):
        assert_png(tmp_path / "report" / f"{name}.png")
    index = (tmp_path / "report" / "index.html").read_text()
    assert index.count("<img ") == 5


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


def _seed_plot_data(sessions: sessionmaker[Session]) -> datetime:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    with sessions.begin() as session:
        series = Series(name="pump", kind="sensor", unit="bar", frequency="h")
        session.add(series)
        session.flush()
        for k in range(48):
            ts = start + k * hour
            session.add(Observation(series_id=series.id, ts=ts, value=float(k % 5)))
            session.add(
                Forecast(
                    pipeline="p",
                    series_id=series.id,
                    issued_at=ts - hour,
                    ts=ts,
                    step=1,
                    predicted=2.0,
                    lower=1.0,
                    upper=3.0,
                )
            )
        for step in (1, 2, 3):
            issued = start + 47 * hour
            session.add(
                Forecast(
                    pipeline="p",
                    series_id=series.id,
                    issued_at=issued,
                    ts=issued + step * hour,
                    step=step,
                    predicted=2.0 + step,
                    lower=1.0,
                    upper=5.0 + step,
                )
            )
        for k, score in ((10, 0.97), (11, 0.99), (40, 0.95)):
            session.add(
                Anomaly(
                    pipeline="p",
                    series_id=series.id,
                    ts=start + k * hour,
                    observed=9.0,
                    predicted=2.0,
                    residual=7.0,
                    threshold=1.0,
                    score=score,
                    severity="high",
                    direction="up",
                )
            )
        for first, last, score in ((10, 11, 0.99), (40, 40, 0.95)):
            session.add(
                AnomalyEvent(
                    pipeline="p",
                    series_id=series.id,
                    start_ts=start + first * hour,
                    end_ts=start + last * hour,
                    peak_ts=start + last * hour,
                    peak_score=score,
                    n_points=last - first + 1,
                    direction="up",
                    severity="high",
                )
            )
    return start


def test_plot_data_reads_a_range_and_draws(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    start = _seed_plot_data(sessions)
    hour = timedelta(hours=1)
    with sessions() as session:
        everything = load_plot_data(session=session, pipeline="p", name="pump")
        part = load_plot_data(
            session=session,
            pipeline="p",
            name="pump",
            time_range=TimeRange(start=start + 11 * hour, end=start + 20 * hour),
        )
        other = load_plot_data(session=session, pipeline="other", name="pump")
    # Every stored step-1 row: one per observation, and the first step of the latest forecast.
    assert len(everything.observed) == 48 and len(everything.predictions) == 49
    assert list(everything.forecast["predicted"]) == [3.0, 4.0, 5.0]
    assert everything.forecast_issued_at == pd.Timestamp(start + 47 * hour)
    assert len(everything.anomalies) == 3 and len(everything.events) == 2
    assert list(everything.top_events(1)["peak_score"]) == [0.99]
    assert everything.unit == "bar"
    # A range keeps its points and the events overlapping it.
    assert len(part.observed) == 10 and list(part.anomalies["score"]) == [0.99]
    assert list(part.events["start_ts"]) == [pd.Timestamp(start + 10 * hour)]
    # Another pipeline's rows are not mixed in.
    assert other.anomalies.empty and other.forecast.empty and len(other.observed) == 48

    png = tmp_path / "pump.png"
    render_png(everything, png)
    assert_png(png)
    page = html_page([Page(everything, png), Page(part, None)])
    assert page.count("<img ") == 1 and "0.9900" in page and "no observations" in page


def test_plot_help_and_database_code_load_neither_tensorflow_nor_matplotlib() -> None:
    output, loaded = heavy_modules_loaded(
        ["plot", "--help"],
        {"tensorflow", "keras", "matplotlib"},
        imports=("pipelines.demo.tour", "pipelines.plot.render", "pipelines.plot.data"),
    )
    assert "--series" in output and "--html" in output
    assert loaded == []


@pytest.mark.slow
def test_the_daemon_keeps_the_demo_current_while_demo_feed_appends(
    quick_demo: tuple[Path, str], tmp_path: Path
) -> None:
    from tests.test_daemon import start_daemon, wait_for

    directory, _ = quick_demo
    live = tmp_path / "live"
    shutil.copytree(directory, live)  # the other tests keep the demo as it was
    sensors = [s.name for s in synthetic_series(QUICK)]

    def newest_and_watermark() -> list[tuple[str, str, str | None]]:
        with sqlite3.connect(live / DB_FILE) as db:
            return db.execute(
                "SELECT s.name, max(o.ts), w.last_ts FROM series s JOIN observations o "
                "ON o.series_id = s.id LEFT JOIN watermarks w ON w.series_id = s.id "
                "GROUP BY s.name, w.last_ts ORDER BY s.name"
            ).fetchall()

    before = dict((name, newest) for name, newest, _ in newest_and_watermark())
    daemon = start_daemon(live)
    try:
        fed = run_cli(
            "demo-feed",
            "--dir",
            str(live),
            "--every",
            "0.3s",
            "--count",
            "12",
            "--spike-every",
            "6",
            cwd=tmp_path,
        )
        assert "12 point(s) per sensor appended" in fed.stdout
        assert fed.stdout.count("a spike in") == 2
        # The daemon catches up: every series scored up to its newest point.
        wait_for(
            lambda: all(mark == newest for _, newest, mark in newest_and_watermark()),
            timeout=120,
            process=daemon,
        )
        status = run_cli("status", "-c", str(live / CONFIG_FILE), cwd=tmp_path).stdout
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    rows = {line.split("│")[1].strip(): line for line in status.splitlines() if "│" in line}
    for name in [*sensors, "vix"]:
        assert " 0s " in rows[name], status
    with sqlite3.connect(live / DB_FILE) as db:
        for name in sensors:
            newest = pd.Timestamp(before[name]) + pd.Timedelta(hours=12)
            scored, fresh = db.execute(
                "SELECT sum(f.step = 1 AND f.ts > ?1 AND f.ts <= ?2), sum(f.issued_at = ?2) "
                "FROM forecasts f JOIN series s ON s.id = f.series_id WHERE s.name = ?3",
                (before[name], newest.strftime("%Y-%m-%d %H:%M:%S.%f"), name),
            ).fetchone()
            assert (scored, fresh) == (12, 12), name  # each new point, and the next 12 hours
        first_fed = min(before[name] for name in sensors)
        spikes = db.execute("SELECT count(*) FROM anomalies WHERE ts > ?", (first_fed,)).fetchone()
    assert spikes[0] >= 1  # the fed spikes are flagged as they arrive


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
