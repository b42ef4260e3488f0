"""`forecaster check-config`: validate the config file and show what it resolves to."""

from __future__ import annotations

from pipelines.cli.app import ConfigOption, VerboseOption, app, out, settings_from


@app.command("check-config")
def check_config(config: ConfigOption = None, verbose: VerboseOption = False) -> None:
    """Validate the config file and print the settings it resolves to."""
    from forecaster.db.session import display_url, make_engine

    settings = settings_from(config, verbose)
    make_engine(settings.database).dispose()  # the URL names a database forecaster can open
    out.print(f"config: {settings.config_path}", markup=False)
    out.print(f"database: {display_url(settings.database.url)}", markup=False)
    out.print(f"model_dir: {settings.model_dir}", markup=False)
    if settings.model_store is not None:
        from forecaster.model.remote import open_filesystem

        open_filesystem(settings.model_store)
        out.print(f"model_store: {settings.model_store}", markup=False)
    for pipeline in settings.pipelines:
        source = pipeline.source.table if pipeline.source else "observations"
        out.print(f"pipeline {pipeline.name}: source {source}", markup=False)
    out.print("[green]config is valid[/]")
