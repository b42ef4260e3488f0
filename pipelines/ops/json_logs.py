"""Log records as one JSON object per line (`--log-format json`), for log shippers: time,
level, logger and message, plus the structured fields a line carries (`extra=`)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from enum import StrEnum

# Attributes every LogRecord has: anything else on a record came in through `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class LogFormat(StrEnum):
    """How the daemon writes its log lines."""

    text = "text"
    json = "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; fields given as `extra=` become keys (None ones left out),
    a traceback is one string under `traceback`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and value is not None:
                entry.setdefault(key, value)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logs(log_format: LogFormat, verbose: bool) -> None:
    """Send log records to stderr in `log_format`; call before the command's other logging
    setup (`logging.basicConfig` there then keeps this handler). Text is the default setup."""
    if log_format is LogFormat.json:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])
