"""How user values and unexpected exceptions appear in messages: one short, readable line."""

from __future__ import annotations

MAX_VALUE_CHARS = 80  # a user value (a cell, a config value, a name) in a message, at most


def quoted(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """`repr(value)` cut to about `limit` characters: a 5 MB cell stays one readable line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = len(value) if isinstance(value, str | bytes) else len(text)
    return f"{text[:limit]}… ({size:,} characters)"


def first_line(text: str) -> str:
    """The first non-empty line of `text` (messages of drivers and libraries run on)."""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def exception_summary(exc: BaseException) -> str:
    """An unexpected exception in one line: its class and first message line; a database
    error gives its driver's message, without the SQL text and parameters."""
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
    detail = first_line(str(orig if orig is not None else exc))
    name = type(orig if orig is not None else exc).__name__
    return f"{name}: {detail[:500]}" if detail else name
