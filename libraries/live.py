"""Live synchronization: the directory watcher feeds a debounced queue of targeted pushes.

Runs inside `google-sync worker` (next to the scheduler) or on its own as
`google-sync watch`. Pushes go through the engine, whose lock keeps them from
overlapping with a full run.
"""
from __future__ import annotations

import logging

from .config import Settings
from .engine import SyncEngine
from .errors import GoogleSyncError
from .push_queue import PushQueue
from .watcher import DirectoryWatcher, Request

log = logging.getLogger(__name__)


class LiveSync:
    def __init__(self, settings: Settings, engine: SyncEngine | None = None):
        self.engine = engine or SyncEngine(settings)
        self.queue = PushQueue(self._push, delay=settings.sync.push_delay)
        self.watcher = DirectoryWatcher(settings, self.engine.store, self.request)

    def request(self, change: Request) -> None:
        kind, *names = change
        if kind == "user":
            uid, uuid = names
            self.queue.put(("user", uid, "") if uid else ("user", "", uuid))  # one key per user, however it was seen
        else:
            self.queue.put(change)

    def start(self) -> None:
        self.watcher.start()

    def stop(self) -> None:
        self.watcher.stop()
        self.queue.stop()

    def _push(self, change: Request) -> None:
        kind, *names = change
        try:
            if kind == "user":
                uid, uuid = names
                report = self.engine.push_user(uid, uuid=uuid, trigger="watch")
            else:
                report = self.engine.push_group(names[0], trigger="watch")
        except GoogleSyncError as error:
            log.error("push of %s %s not done: %s (the next full synchronization will retry)", kind, " ".join(filter(None, names)), error)
            return
        for result in report.results:
            log.log(logging.INFO if result.ok else logging.ERROR, "pushed %s %s %s", result.change.action, result.change.subject, result.message)
