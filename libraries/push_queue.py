"""A debounced queue of targeted pushes, run one at a time on a background thread.

A burst of edits to one entry (a user manager saving five attributes, an
ldapmodify followed by an ldappasswd) becomes one push: each key waits
``delay`` seconds after its last change before it is handed to the handler.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Hashable

log = logging.getLogger(__name__)


class PushQueue:
    def __init__(self, handler: Callable[[Hashable], None], delay: float = 2.0, name: str = "google-sync-push"):
        self.handler = handler
        self.delay = delay
        self._due: dict[Hashable, float] = {}
        self._condition = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, key: Hashable) -> None:
        """Ask for a push of ``key``; a later request for the same key pushes the deadline back."""
        with self._condition:
            self._due[key] = time.monotonic() + self.delay
            self._condition.notify()

    def stop(self, timeout: float = 10.0) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self._thread.join(timeout)

    def idle(self) -> bool:
        """Nothing waiting and nothing running (for tests and orderly shutdown)."""
        with self._condition:
            return not self._due and not self._busy

    def _next_key(self) -> Hashable | None:
        with self._condition:
            while not self._stopping:
                now = time.monotonic()
                ready = [key for key, due in self._due.items() if due <= now]
                if ready:
                    key = min(ready, key=self._due.__getitem__)
                    del self._due[key]
                    self._busy = True
                    return key
                wait = min(self._due.values(), default=now + 3600) - now
                self._condition.wait(timeout=max(wait, 0.01))
            return None

    def _run(self) -> None:
        while (key := self._next_key()) is not None:
            try:
                self.handler(key)
            except Exception:  # a push must never kill the queue; the full sync repairs what it missed
                log.exception("push of %s failed", key)
            finally:
                with self._condition:
                    self._busy = False
