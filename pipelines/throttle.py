"""Call an action at most once per interval, however often the caller asks."""

from __future__ import annotations

import time
from collections.abc import Callable


def at_most_every(seconds: float, action: Callable[[], None]) -> Callable[[], None]:
    """A function that runs `action` when `seconds` have passed since it last ran (or since it
    was made), and does nothing otherwise: lease renewals asked for after every chunk."""
    last = [time.monotonic()]

    def maybe() -> None:
        if time.monotonic() - last[0] < seconds:
            return
        action()
        last[0] = time.monotonic()

    return maybe
