"""`forecaster db upgrade|current|downgrade`: create, inspect and migrate the schema."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli.app import ConfigOption, VerboseOption, db_app, out, settings_from


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Create or migrate the tables to the newest schema (safe to rerun)."""
    from forecaster.db import migrate
    from forecaster.db.session import check_connection, display_url, make_engine

    settings = settings_from(config, verbose)
    engine = make_engine(settings.database)
    try:
        check_connection(engine)
        before = migrate.current_revision(engine)
        migrate.upgrade(engine, revision)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    where = display_url(settings.database.url)
    if before == after:
        out.print(f"{where}: already at revision {after}", markup=False)
    else:
        out.print(f"{where}: upgraded {before or 'empty database'} -> {after}", markup=False)


@db_app.command("current")
def db_current(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Show the database's schema revision and whether it is the newest."""
    from forecaster.db import migrate
    from forecaster.db.session import check_connection, display_url, make_engine

    settings = settings_from(config, verbose)
    engine = make_engine(settings.database)
    try:
        check_connection(engine)
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind: newest is {head}"
    if not migrate.is_known(current):
        state = f"unknown to this forecaster, whose newest is {head}: written by a newer version?"
    where = display_url(settings.database.url)
    out.print(f"{where}: revision {current or 'none'} ({state})", markup=False)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' drops every table.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Revert the schema to an older revision (may drop tables and their data)."""
    from forecaster.db import migrate
    from forecaster.db.session import check_connection, display_url, make_engine

    settings = settings_from(config, verbose)
    if not yes:
        typer.confirm(
            f"Downgrade {display_url(settings.database.url)} to {revision}? Data may be lost",
            abort=True,
        )
    engine = make_engine(settings.database)
    try:
        check_connection(engine)
        migrate.downgrade(engine, revision)
        out.print(f"downgraded to {migrate.current_revision(engine) or 'base'}")
    finally:
        engine.dispose()
