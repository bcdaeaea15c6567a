"""A stop asked of this process (the worker's SIGTERM): a run's waits end at once instead of at their deadline.

A run retrying Google through an outage waits up to ``retry_deadline`` (30 minutes by
default), far longer than systemd gives a stopping service (``TimeoutStopSec``) before
SIGKILL, which would leave the run ``running`` in the history and the push half done.
So every wait of a run (the backoff between retries, the executor's waits for parts
due later) goes through ``sleep`` here, and the journal looks before each batch: once
a stop is requested they raise ``Stopped``, and the run ends ``interrupted`` with what
it applied recorded; the changes it had sent unanswered stay journaled for the next run.
"""

from __future__ import annotations

import threading

from .errors import GoogleSyncError

_requested = threading.Event()


class Stopped(GoogleSyncError):
    """The process was asked to stop while a run waited: the run ends here; the next one does the rest."""


def request() -> None:
    _requested.set()


def clear() -> None:
    """After the stop is done (a worker run in a thread by a test, or the console, goes on living)."""
    _requested.clear()


def requested() -> bool:
    return _requested.is_set()


def check() -> None:
    if _requested.is_set():
        raise Stopped(
            "the worker was asked to stop (SIGTERM) before this run finished; what it applied is recorded, "
            "and the next run (or the push, still queued) does the rest"
        )


def sleep(seconds: float) -> None:
    """time.sleep that a stop request cuts short (raising Stopped)."""
    check()
    if _requested.wait(max(0.0, seconds)):
        check()
