"""Every package of the tree is in pyproject.toml's package list, so an install ships it."""

from __future__ import annotations

import tomllib

from tests.helpers.paths import REPO_ROOT


def test_every_package_is_listed_for_the_wheel() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(project["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO_ROOT).parts)
        for top in ("forecaster", "pipelines")
        for init in (REPO_ROOT / top).rglob("__init__.py")
    }
    migrations = {
        ".".join(
            ("forecaster_migrations", *init.parent.relative_to(REPO_ROOT / "migrations").parts)
        )
        for init in (REPO_ROOT / "migrations").rglob("__init__.py")
    }
    assert listed == found | migrations
