"""Where the service keeps its tables."""

from __future__ import annotations

from pydantic import Field

from forecaster.config.strict import StrictModel

DEFAULT_DATABASE_FILE = "forecaster.db"


class DatabaseSettings(StrictModel):
    """Where the service keeps its tables."""

    url: str = Field(
        default=f"sqlite:///{DEFAULT_DATABASE_FILE}",
        description="SQLAlchemy URL; relative SQLite paths resolve next to the config file.",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging).")
    sqlite_busy_timeout_s: float = Field(
        default=30.0, gt=0, description="How long SQLite waits for a lock before failing."
    )
