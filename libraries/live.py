"""Live synchronization: the directory watcher feeds a debounced queue of targeted pushes.

Runs inside `google-sync worker` (next to the scheduler) or on its own as
`google-sync watch`. Each push goes through `jobs`, which reads the
configuration afresh (so a Disconnect in the console stops pushes at once) and
the engine, whose lock keeps pushes from overlapping with a full run.
"""
from __future__ import annotations

import logging

from . import config, jobs
from .push_queue import PushQueue
from .store import Store
from .watcher import DirectoryWatcher, Request

log = logging.getLogger(__name__)


class LiveSync:
    def __init__(self, config_path: str):
        self.config_path = config_path
        settings = config.load(config_path)
        self.queue = PushQueue(self._push, delay=settings.sync.push_delay)
        self.watcher = DirectoryWatcher(settings, Store(settings.sync.database), self.request)

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
        if kind == "user":
            uid, uuid = names
            report = jobs.push_user(self.config_path, uid, trigger="watch", uuid=uuid)
        else:
            report = jobs.push_group(self.config_path, names[0], trigger="watch")
        for result in report.results if report else ():
            log.log(logging.INFO if result.ok else logging.ERROR, "pushed %s %s %s", result.change.action, result.change.subject, result.message)
