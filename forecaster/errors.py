"""User-facing error types: each carries a message that names what is wrong."""


class ForecasterError(Exception):
    """A problem the user can fix (bad input, bad config, missing table); never a bug."""


class ConfigError(ForecasterError):
    """The configuration file or an environment override is invalid."""


class DatabaseError(ForecasterError):
    """The database is unreachable, not migrated, or lacks a table or column."""


class IngestError(ForecasterError):
    """An input file cannot be loaded as it is."""


class SourceError(ForecasterError):
    """A configured series source (table, column, series) does not exist or is unusable."""


class SeriesNotFound(ForecasterError):
    """A series name that is not in the database."""


class SeriesUnusable(ForecasterError):
    """A series that cannot be modelled as it is (constant, all missing, irregular)."""


class SeriesTooShort(SeriesUnusable):
    """A series with fewer usable points than the model needs."""


class ModelArtifactError(ForecasterError):
    """A stored model is missing, corrupt or does not match its metadata."""


class ModelNotFound(ForecasterError):
    """No trained model exists for a pipeline and series."""


class DaemonAlreadyRunning(ForecasterError):
    """Another daemon holds the single-daemon lock of an SQLite database."""


class SeriesBusy(ForecasterError):
    """A daemon replica or another backfill holds a series' lease past the wait."""
