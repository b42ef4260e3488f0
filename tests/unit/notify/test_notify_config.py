"""The `notify:` section: sinks, filters and retry settings validated, bad values named; the
README's example config and payload."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from forecaster.config.loading import load_config
from forecaster.config.notify import NotifyFilters, NotifySettings, RetrySettings
from forecaster.errors import ConfigError
from pipelines.notify.payloads import Notice, webhook_body
from tests.helpers.paths import REPO_ROOT

SINKS = """notify:
  sinks:
    - {name: ops, url: "http://127.0.0.1:9/hook"}
    - {name: chat, type: slack, url: "https://hooks.slack.com/services/T/B/X", timeout_seconds: 3}
"""


def test_absent_section_means_no_notifications(tmp_path: Path) -> None:
    settings = load_config(_write(tmp_path, ""), env={})
    assert not settings.notify.enabled and settings.notify.sinks == []


def test_sinks_and_defaults(tmp_path: Path) -> None:
    notify = load_config(_write(tmp_path, SINKS), env={}).notify
    assert notify.enabled and [s.type for s in notify.sinks] == ["webhook", "slack"]
    assert notify.sinks[0].timeout_seconds == 10.0 and notify.sinks[1].timeout_seconds == 3
    assert notify.sink("chat") is notify.sinks[1] and notify.sink("gone") is None
    assert notify.on_close is False and notify.filters.min_severity == "low"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("notify:\n  sinks:\n    - {name: a, url: ftp://x}\n", "is not an http:// or https:// URL"),
        ("notify:\n  sinks:\n    - {name: a, url: 'http://x', typo: 1}\n", "typo"),
        ("notify:\n  sinks:\n    - {name: a, type: pager, url: 'http://x'}\n", "type"),
        (
            "notify:\n  sinks:\n    - {name: a, url: 'http://x'}\n    - {name: a, url: 'http://y'}\n",
            "duplicate sink name(s): a",
        ),
        ("notify:\n  filters: {min_severity: huge}\n", "min_severity"),
        ("notify:\n  retry: {first_delay_seconds: 10, max_delay_seconds: 1}\n", "at least"),
        ("notify:\n  retries: {}\n", "retries"),
        (
            "notify:\n  filters: {pipelines: [prod]}\n",
            "notify.filters.pipelines: no pipeline named prod (pipelines: default)",
        ),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), env={})
    assert message in str(caught.value)


def test_filters_by_pipeline_severity_and_score() -> None:
    every = NotifyFilters()
    assert every.admits(pipeline="any", severity="low", peak_score=0.0)
    narrow = NotifyFilters(pipelines=["prod"], min_severity="high", min_peak_score=0.98)
    assert narrow.admits(pipeline="prod", severity="critical", peak_score=0.995)
    assert narrow.admits(pipeline="prod", severity="high", peak_score=0.98)
    assert not narrow.admits(pipeline="dev", severity="critical", peak_score=0.995)
    assert not narrow.admits(pipeline="prod", severity="medium", peak_score=0.995)
    assert not narrow.admits(pipeline="prod", severity="high", peak_score=0.979)


def test_backoff_doubles_up_to_the_max_and_stays_there() -> None:
    retry = RetrySettings(first_delay_seconds=2, max_delay_seconds=30)
    assert [retry.delay(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    assert retry.delay(10_000) == 30  # a sink down for weeks is still retried


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def readme_notifications() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("### Notifications", 1)[1].split("\n### ", 1)[0]


def test_the_readme_example_config_and_payload_are_what_the_code_takes_and_sends() -> None:
    section = readme_notifications()
    config = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)[0])
    notify = NotifySettings.model_validate(config["notify"])
    assert [s.type for s in notify.sinks] == ["webhook", "slack"]
    example = json.loads(re.findall(r"```json\n(.*?)```", section, flags=re.DOTALL)[0])
    notice = Notice(
        event_id=example["event_id"],
        pipeline=example["pipeline"],
        series=example["series"],
        start=datetime.fromisoformat(example["start"]),
        end=datetime.fromisoformat(example["last_point"]),
        peak_ts=datetime.fromisoformat(example["peak_ts"]),
        peak_score=example["peak_score"],
        severity=example["severity"],
        direction=example["direction"],
        n_points=example["n_points"],
    )
    assert webhook_body(notice, "open", example["idempotency_key"]) == example
