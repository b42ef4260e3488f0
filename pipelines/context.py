"""The per-process context built once from settings: engine, session factory, sources."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config.settings import Settings
from forecaster.db import migrate
from forecaster.db.session import check_connection, make_engine, make_session_factory
from forecaster.io.sources import SeriesSource, make_source

if TYPE_CHECKING:
    from pipelines.model_runtime import ModelRuntime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass
class AppContext:
    """Everything a pipeline needs, passed explicitly; no module-level state."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    verbose: bool = False
    clock: Clock = system_clock  # every time a row records; tests pin it
    _sources: dict[str, SeriesSource] = field(default_factory=dict)
    _models: ModelRuntime | None = None

    @property
    def models(self) -> ModelRuntime:
        """The model runtime, created on first use (TensorFlow loads only when a model runs)."""
        if self._models is None:
            from forecaster.model.remote import RemoteStore
            from pipelines.model_runtime import ModelRuntime

            root, url = self.settings.model_dir, self.settings.model_store
            remote = None if url is None else RemoteStore(url, root)
            self._models = ModelRuntime(root, verbose=self.verbose, remote=remote)
        return self._models

    def source(self, pipeline: str | None = None) -> SeriesSource:
        """The series source of a pipeline (the first pipeline when None)."""
        settings = self.settings.pipeline(pipeline)
        if settings.name not in self._sources:
            self._sources[settings.name] = make_source(settings.source)
        return self._sources[settings.name]

    def close(self) -> None:
        self.engine.dispose()


def open_context(
    settings: Settings, *, require_schema: bool = True, verbose: bool = False
) -> AppContext:
    """Connect to the configured database, checking it is reachable and migrated."""
    engine = make_engine(settings.database)
    try:
        check_connection(engine)
        if require_schema:
            migrate.require_current_schema(engine)
    except Exception:
        engine.dispose()
        raise
    return AppContext(
        settings=settings, engine=engine, sessions=make_session_factory(engine), verbose=verbose
    )
