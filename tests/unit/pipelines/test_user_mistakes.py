"""What the commands print and check before they work: user text printed as it is (never as
rich markup), output paths checked up front, a time range that runs backwards refused, and the
daemon's cycle line saying what its run row says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from forecaster.errors import ConfigError, ForecasterError
from pipelines.cli.app import parse_range, progress_bars, series_task
from pipelines.cli.paths import check_model_dir, check_output_directory, check_output_file
from pipelines.cli.render import backfill_table, literal, series_table, status_table
from pipelines.daemon.cycles import CycleReport

NAMES = ["foo[/]bar", "[bold red]x", "back\\", "[link=http://x]y[/link]"]
NOW = datetime(2024, 1, 2, tzinfo=UTC)


def printed(*renderables: Any) -> tuple[str, str]:
    """What a console shows: the plain text and the text with its styles."""
    console = Console(record=True, width=200, color_system="truecolor", force_terminal=True)
    for renderable in renderables:
        console.print(renderable)
    return console.export_text(clear=False), console.export_text(styles=True)


def test_series_names_print_literally_in_every_table() -> None:
    summaries = [
        SimpleNamespace(
            name=n, kind="sensor", unit="[i]", frequency="h", points=3, first_ts=None, last_ts=None
        )
        for n in NAMES
    ]
    rows = [
        SimpleNamespace(
            series=n,
            watermark=None,
            newest=None,
            lag=None,
            model_version=None,
            model_trained_at=None,
            error=f"series {n!r} is constant",
        )
        for n in NAMES
    ]
    status = SimpleNamespace(name="p", series=rows, last_run=None)
    reports = [
        SimpleNamespace(
            series=n,
            ok=False,
            error=f"{n} [red]failed",
            notes=[],
            points_read=0,
            points_scored=0,
            anomalies=0,
            events=0,
            models_trained=0,
            seconds=0.0,
        )
        for n in NAMES
    ]
    backfill = SimpleNamespace(pipeline="p", run_id=1, reports=reports)
    text, styled = printed(
        series_table(summaries),  # type: ignore[arg-type]
        status_table(status, NOW),  # type: ignore[arg-type]
        backfill_table(backfill),  # type: ignore[arg-type]
    )
    for name in NAMES:
        assert text.count(name) >= 3, name
    assert "[red]failed" in text and "[i]" in text
    assert "\x1b[1;31mx" not in styled  # `[bold red]x` is not drawn bold and red


def test_literal_text_survives_markup_in_lines() -> None:
    text, _ = printed(*(f"series [bold]{literal(n)}[/]" for n in NAMES))
    assert text.splitlines() == [f"series {n}" for n in NAMES]


def test_a_progress_bar_shows_a_series_name_as_it_is() -> None:
    progress = progress_bars()
    for name in NAMES:
        series_task(progress, name, 10)
    text, _ = printed(progress.get_renderable())
    for name in NAMES:
        assert name in text


def test_output_files_and_directories_are_checked_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    check_output_file(tmp_path / "new" / "sub" / "plot.png", "--out")  # parents can be made
    check_output_file(tmp_path / "file", "--out")  # an existing file is overwritten
    check_output_directory(tmp_path / "dir", "--html")
    check_output_directory(tmp_path / "new" / "html", "--html")
    cases = [
        (check_output_file, tmp_path / "dir", "--out", "is a directory; give a file name"),
        (check_output_file, tmp_path / "file" / "x.png", "--out", "file is not a directory"),
        (check_output_file, Path("/proc/x.png"), "--out", "cannot create files in /proc"),
        (check_output_directory, tmp_path / "file", "--html", "exists and is not a directory"),
        (check_output_directory, Path("/proc/x"), "--html", "cannot create files in /proc"),
    ]
    for check, path, option, message in cases:
        with pytest.raises(ForecasterError) as info:
            check(path, option)
        assert str(info.value).startswith(f"{option} {path}: ") and message in str(info.value)
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_an_unusable_model_dir_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"^model_dir .*file: exists and is not a directory"):
        check_model_dir(tmp_path / "file")
    with pytest.raises(ConfigError, match=r"^model_dir /proc/models: cannot create files"):
        check_model_dir(Path("/proc/models"))
    check_model_dir(tmp_path / "models")


def test_a_start_after_the_end_is_refused() -> None:
    assert parse_range("2024-01-01", "2024-02-01")[0] == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ForecasterError, match=r"--start 2024-02-01T00:00:00\+00:00 is later"):
        parse_range("2024-02-01", "2024-01-01")
    with pytest.raises(ForecasterError, match=r"--start: cannot read '1500-01-0x' as a time"):
        parse_range("1500-01-0x", None)


@pytest.mark.parametrize(
    ("series", "errors", "stopped", "status"),
    [
        (5, {}, False, "ok"),
        (5, {"a": "constant", "b": "too short", "c": "x", "d": "y"}, False, "partial"),
        (2, {"a": "constant", "b": "too short"}, False, "failed"),
        (3, {}, True, "stopped"),
    ],
)
def test_the_cycle_line_has_the_status_of_the_run_row(
    series: int, errors: dict[str, str], stopped: bool, status: str
) -> None:
    report = CycleReport(pipeline="p", job="detect", cycle_at=NOW - timedelta(minutes=1))
    report.series, report.errors, report.stopped = series, dict(errors), stopped
    assert report.outcome.status == status
    assert f" status={status} series={series} failed={len(errors)} " in report.log_line()
