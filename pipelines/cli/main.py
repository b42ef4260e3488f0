"""The `forecaster` entry point: registers every command and turns failures into one line."""

from __future__ import annotations

import sys

from rich.text import Text

from forecaster.errors import ForecasterError
from pipelines.cli.app import app, err

# Importing a command module registers its commands, and `forecaster --help` lists them in
# import order: keep this order rather than sorting it.
from pipelines.cli import data, models, detection, daemon, probe, notify, demo, plot, config, db  # noqa: F401  # isort: skip


def main() -> None:
    """Entry point: user errors become one clear line on stderr and exit status 1."""
    try:
        app()
    except ForecasterError as exc:
        err.print(Text.assemble(("error:", "red"), f" {exc}"), highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as exc:
        from sqlalchemy.exc import DBAPIError

        if not isinstance(exc, DBAPIError):
            raise
        # A database failure mid-command (server gone, lock timeout): one line, no traceback.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        line = Text.assemble(("database error:", "red"), f" {reason}")
        err.print(line, highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
