"""Every user mistake, run through the real CLI, is one clear `error: …` line and exit status 1
(never a traceback); names that look like rich markup print as they are."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forecaster.db.migrate import known_revisions
from tests.helpers.cli import run_cli
from tests.helpers.series import write_config

MARKUP_NAMES = ("foo[/]bar", "[bold red]x")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the two markup-named series, and files to get wrong."""
    work = tmp_path_factory.mktemp("mistakes")
    write_config(work, f"sqlite:///{work / 'forecaster.db'}")
    run_cli("db", "upgrade", cwd=work)
    lines = [f"2024-01-01T{h:02d}:00:00,{h % 5}" for h in range(24)]
    (work / "points.csv").write_text("timestamp,value\n" + "\n".join(lines) + "\n")
    for name in MARKUP_NAMES:
        run_cli("ingest", "points.csv", "--series", name, cwd=work)
    (work / "ambiguous.csv").write_text("date,value\n01/02/2020,1\n02/02/2020,2\n")
    (work / "old.csv").write_text("timestamp,value\n2020-01-01,1\n1500-01-01,2\n")
    (work / "a-dir").mkdir()
    (work / "a-file").write_text("not a directory\n")
    for name, changes in {
        "notadb.yaml": {"database": {"url": "notadb://x"}},
        "never.yaml": {"pipelines": [{"name": "p", "training": {"cron": "0 0 30 2 *"}}]},
        "tiny-initial.yaml": {"pipelines": [{"name": "p", "training": {"initial_points": 50}}]},
        "model-dir-file.yaml": {"model_dir": "a-file", "database": {"url": "sqlite:///x.db"}},
        "store.yaml": {"model_store": "nosuchfs://bucket/models"},
    }.items():
        (work / name).write_text(yaml.safe_dump(changes))
    return work


def test_markup_in_series_names_prints_literally(workdir: Path) -> None:
    listing = run_cli("series", cwd=workdir)
    backfill = run_cli("backfill", cwd=workdir)
    status = run_cli("status", cwd=workdir)
    for name in MARKUP_NAMES:
        assert name in listing.stdout and name in backfill.stdout and name in status.stdout
    plotted = run_cli("plot", "--series", "foo[/]bar", "--out", "plot.png", cwd=workdir)
    assert "plot.png: foo[/]bar, 24 points" in plotted.stdout


CASES = {
    "empty series name": (
        ["ingest", "points.csv", "--series", ""],
        "error: --series: a series name cannot be empty",
    ),
    "series name that is a path": (
        ["ingest", "points.csv", "--series", ".."],
        "error: --series: series name '..' is not allowed (it names a directory)",
    ),
    "negative frequency": (
        ["ingest", "points.csv", "--series", "s", "--frequency=-5min"],
        "error: --frequency: must be a positive interval, got '-5min'",
    ),
    "unknown frequency": (
        ["ingest", "points.csv", "--series", "s", "--frequency", "7x"],
        "error: --frequency: not a frequency: '7x' (a pandas offset alias such as 5min, h, D or B)",
    ),
    "ambiguous dates": (
        ["ingest", "ambiguous.csv", "--series", "s"],
        "error: ambiguous.csv: line 2: the dates are ambiguous: '01/02/2020' reads as "
        "2020-01-02 (month first) or 2020-02-01 (day first); say which with --dayfirst or "
        "--monthfirst (or give --time-format, e.g. '%d/%m/%Y')",
    ),
    "day first and a format": (
        ["ingest", "ambiguous.csv", "--series", "s", "--dayfirst", "--time-format", "%d/%m/%Y"],
        "error: give --time-format or --dayfirst/--monthfirst, not both",
    ),
    "a date before 1677": (
        ["ingest", "old.csv", "--series", "s"],
        "error: old.csv: 1 bad row(s): line 3: time '1500-01-01' is outside 1677-09-22 .. "
        "2262-04-11, the times the service can hold. Nothing was written; use --skip-bad-rows "
        "to load the other rows",
    ),
    "plot into a directory": (
        ["plot", "--series", "foo[/]bar", "--out", "a-dir"],
        "error: --out a-dir: is a directory; give a file name, e.g. a-dir/plot.png",
    ),
    "plot where nobody writes": (
        ["plot", "--series", "foo[/]bar", "--out", "/proc/x.png"],
        "error: --out /proc/x.png: cannot create files in /proc: No such file or directory",
    ),
    "html into a file": (
        ["plot", "--html", "a-file"],
        "error: --html a-file: exists and is not a directory",
    ),
    "backfill backwards": (
        ["backfill", "--start", "2024-02-01", "--end", "2024-01-01"],
        "error: --start 2024-02-01T00:00:00+00:00 is later than --end 2024-01-01T00:00:00+00:00: "
        "nothing to do",
    ),
    "unknown revision": (
        ["db", "upgrade", "--revision", "nosuchrev"],
        "error: cannot migrate to revision 'nosuchrev': Can't locate revision identified by "
        f"'nosuchrev' (this forecaster's revisions: {', '.join(known_revisions())}, or head and "
        "base)",
    ),
    "unknown database": (
        ["check-config", "-c", "notadb.yaml"],
        "error: database.url: unknown database 'notadb' in notadb://x (use sqlite:///FILE or "
        "postgresql+psycopg://...)",
    ),
    "cron that never fires": (
        ["check-config", "-c", "never.yaml"],
        "error: never.yaml: pipelines[0].training.cron: cron expression '0 0 30 2 *' never "
        "fires (no such date)",
    ),
    "too few initial points": (
        ["check-config", "-c", "tiny-initial.yaml"],
        "error: tiny-initial.yaml: pipelines[0]: training.initial_points is 50, but the model "
        "needs at least 140 points to train (window 64 + chunk 64 + horizon 12): raise "
        "initial_points or shrink the model",
    ),
    "model_dir is a file": (
        ["train", "--series", "s", "-c", "model-dir-file.yaml"],
        "error: model_dir {work}/a-file: exists and is not a directory (set model_dir in the "
        "config or FORECASTER_MODEL_DIR)",
    ),
    "model_store nobody can open": (
        ["check-config", "-c", "store.yaml"],
        "error: model_store 'nosuchfs://bucket/models': Protocol not known: nosuchfs",
    ),
    "evaluate report nobody can write": (
        ["evaluate", "--data", ".", "--labels", "labels.json", "--out", "/proc/report.json"],
        "error: --out /proc/report.json: cannot create files in /proc: No such file or directory",
    ),
}


@pytest.mark.parametrize(("args", "expected"), list(CASES.values()), ids=list(CASES))
def test_a_user_mistake_is_one_clear_line(workdir: Path, args: list[str], expected: str) -> None:
    result = run_cli(*args, cwd=workdir, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [expected.format(work=workdir.resolve())]
