"""Waiting for what another thread or process does: poll until the condition holds or the deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout: float = 30.0, step: float = 0.05) -> bool:
    """Whether ``condition`` came true within ``timeout`` seconds (a bound, never a fixed wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())
