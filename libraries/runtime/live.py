"""Live synchronization: the directory watcher feeds the durable queue of targeted pushes.

Runs inside `google-sync worker` (next to the scheduler) or on its own as
`google-sync watch`. The queue's pushes go in batches through `jobs.run_pushes`,
which reads the configuration afresh (so a Disconnect in the console stops pushes
at once) and the engine, whose lock keeps pushes from overlapping with a full run.
A push that fails stays queued and is tried again until it is applied.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import SQLAlchemyError

from ..directory.watcher import DirectoryWatcher, Request
from ..ops.monitoring import HEARTBEAT_SECONDS, write_heartbeat
from ..settings import config
from ..state.store import QueuedPush, Store, database_problem, now
from . import jobs
from .push_queue import PushQueue

log = logging.getLogger(__name__)


class LiveSync:
    def __init__(self, config_path: str):
        self.config_path = config_path
        settings = config.load(config_path)
        self.store = Store(settings.sync.database)
        self.watcher = DirectoryWatcher(settings, self.store, self.request)
        self.retry_max = settings.sync.push_retry_max
        self.push_delay = settings.sync.push_delay
        self.queue: PushQueue | None = None
        self._stopping = threading.Event()
        self._beaten = float("-inf")  # monotonic time of the last heartbeat
        self._heartbeat = threading.Thread(target=self._beat, name="google-sync-heartbeat", daemon=True)

    def request(self, change: Request) -> None:
        kind, *names = change
        queue = self.queue
        if queue is None:  # the watcher, the only caller, starts after the queue
            raise RuntimeError("a change was seen before the live pipeline started")
        if kind == "user":
            uid, uuid = names
            queue.put("user", uid, "" if uid else uuid, trigger="watch")  # one row per user, however it was seen
        else:
            queue.put("group", names[0], trigger="watch")
        if time.monotonic() - self._beaten >= 1.0:  # the lag of this change, at once rather than at the next beat
            self._beat_once()  # (at most once a second: a burst of changes is not a burst of writes)

    def start(self) -> None:
        self.queue = PushQueue(
            self.store,
            batch_handler=self._push,
            delay=self.push_delay,
            retry_max=self.retry_max,
            name="google-sync-watch",
        )
        self.watcher.start()
        self._heartbeat.start()

    def stop(self) -> None:
        self._stopping.set()
        self.watcher.stop()
        if self.queue:
            self.queue.stop()
        if self._heartbeat.ident is not None:  # started
            self._heartbeat.join(5)
            self._beat_once(stopped=True)  # health says "stopped" at once instead of waiting for the heartbeat to age

    def heartbeat(self, stopped: bool = False) -> None:
        """Say in the state database that the watcher runs, and how it fares (for google-sync health and the metrics)."""
        watcher = self.watcher
        write_heartbeat(
            self.store,
            now(),
            watcher.mode,
            watcher.connected and not stopped,
            watcher.contact,
            watcher.router.lag,
            stopped,
        )

    def _beat_once(self, stopped: bool = False) -> None:
        self._beaten = time.monotonic()
        try:
            self.heartbeat(stopped)
        except SQLAlchemyError as error:  # the database may be briefly busy or down: the next beat will do
            log.warning(
                "cannot record the watcher's heartbeat in the state database (%s); the next beat tries again",
                database_problem(error),
            )
        except Exception:  # noqa: BLE001  (a bug: keep the traceback, and the watcher)
            log.warning("cannot record the watcher's heartbeat", exc_info=True)

    def _beat(self) -> None:
        if self._stopping.wait(1.0):  # the watcher's first bind, so the first beat does not say "cannot reach"
            return
        while True:
            self._beat_once()
            if self._stopping.wait(HEARTBEAT_SECONDS):
                return

    def _push(self, pushes: list[QueuedPush]) -> dict:
        run = jobs.run_pushes(self.config_path, pushes, self.store)
        for result in run.report.results if run.report else ():
            log.log(
                logging.INFO if result.ok else logging.ERROR,
                "pushed %s %s %s",
                result.change.action,
                result.change.subject,
                result.message,
            )
        return run.outcomes
