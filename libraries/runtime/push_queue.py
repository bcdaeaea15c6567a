"""A durable, debounced queue of targeted pushes, run one at a time on a background thread.

A push is written to the state database when the change is seen and removed
only once it has been applied, so nothing is lost to an outage, a restart or a
long run holding the lock:
- a burst of edits to one entry becomes one push: each request moves the
  object's due time ``delay`` seconds on (one row per object);
- a push that fails is tried again with exponential backoff, capped at
  ``retry_max`` seconds, for as long as it takes, across restarts;
- a push waiting behind a running synchronization is not a failure: it is
  simply tried again a moment later;
- several processes (the console and the worker) share the queue: a push is
  claimed for a while before it runs, so only one of them runs it.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
from datetime import timedelta
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError

from ..core.errors import RunLocked
from ..core.stopping import Stopped, requested
from ..state.store import QueuedPush, Store, database_problem, now

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)  # a claimed push is left to its process this long (longer than any push runs)
POLL = 2.0  # seconds between looks for pushes queued by other processes
LOCKED_RETRY = 5.0  # seconds before a push that found a synchronization running looks again
CLOCK_SLACK = 60.0  # seconds beyond the longest wait this queue sets before a due time means the clock went back
RETRY_BASE = 5.0  # seconds before the first retry of a failed push; doubled each time up to retry_max

Handler = Callable[[QueuedPush], None]  # raises when the push was not (wholly) applied


def push_key(kind: str, name: str, uuid: str = "") -> str:
    """One row per object, however it was seen: by name, or by entryUUID once it is gone from the directory."""
    return f"{kind}:{name.lower()}" if name else f"{kind}-uuid:{uuid}"


class PushQueue:
    def __init__(self, store: Store, handler: Handler, delay: float = 2.0, retry_max: float = 600.0,
                 retry_base: float = RETRY_BASE, name: str = "google-sync-push"):
        self.store = store
        self.handler = handler
        self.delay = delay
        self.retry_max, self.retry_base = retry_max, retry_base
        # Due times are wall-clock times in the database (shared by processes and restarts). No wait this queue sets is
        # longer than this: a push due further ahead was queued before the clock went back (an NTP step, a manual date).
        self.horizon = timedelta(seconds=max(delay, retry_max, retry_base, LOCKED_RETRY) + CLOCK_SLACK)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{name}:{id(self):x}"
        self._condition = threading.Condition()
        self._stopping = False
        self._busy = False
        self.store.release_stale_claims()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, kind: str, name: str, uuid: str = "", trigger: str = "push", password_hash: str = "") -> None:
        """Ask for a push of one object; a later request for the same object pushes the due time back."""
        due = now() + timedelta(seconds=self.delay)
        self.store.enqueue_push(push_key(kind, name, uuid), kind, name, uuid, trigger, due, password_hash)
        with self._condition:
            self._condition.notify()

    def stop(self, timeout: float = 10.0) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self._thread.join(timeout)
        try:
            self.store.release_pushes(self.owner)
        except SQLAlchemyError as error:  # stopping because the database went away: the claims lapse with their lease
            log.warning("push queue: cannot release its claims in the state database (%s); they lapse within %s",
                        database_problem(error), LEASE)

    def idle(self) -> bool:
        """Nothing running and nothing waiting for its first attempt (pushes waiting to be retried do not count)."""
        with self._condition:
            if self._busy:
                return False
        return not any(push.attempts == 0 for push in self.store.queued_pushes())

    def _run(self) -> None:
        while not self._stopping:
            try:
                # Once the process is stopping no push starts: it would only be cut short (and one cut short is due at once).
                push = None if requested() else self.store.claim_push(self.owner, LEASE)
                if push is not None:
                    self._handle(push)
                    continue
                wait = self._wait()
            except SQLAlchemyError as error:  # the database is briefly unavailable (locked, restarting): an expected fault, one line
                log.warning("push queue: cannot use the state database (%s); trying again in %ss, nothing queued is lost",
                            database_problem(error), POLL)
                wait = POLL
            except Exception:  # a bug: never let the thread die, and keep the traceback for the report
                log.exception("push queue: unexpected error; trying again in %ss", POLL)
                wait = POLL
            with self._condition:
                if not self._stopping:
                    self._condition.wait(timeout=wait)

    def _wait(self) -> float:
        due = self.store.next_push_due()
        if due is None:
            return POLL
        moment = now()
        if due - moment > self.horizon:  # else the push would wait for as long as the clock went back
            moved = self.store.bring_pushes_forward(moment + self.horizon, moment)
            log.warning("push queue: %d push(es) were due later than any wait this queue sets (by %s): the system clock "
                        "went back; they go now", moved, str(due - moment).split(".")[0])
            return 0.05
        return min(POLL, max(0.05, (due - moment).total_seconds()))

    def _handle(self, push: QueuedPush) -> None:
        with self._condition:
            self._busy = True
        try:
            self.handler(push)
        except RunLocked:
            log.info("push of %s waits for the synchronization that is running", push.label)
            self.store.push_failed(push, "waiting for a running synchronization to finish", now() + timedelta(seconds=LOCKED_RETRY), counts=False)
        except Stopped:  # the process is stopping: not the push's failure; it stays queued, due at once for the next start
            log.info("push of %s cut short by the stop; it stays queued", push.label)
            self.store.push_failed(push, "cut short by a stop of the worker; tried again when it starts", now(), counts=False)
        except Exception as error:  # noqa: BLE001  (any failure: keep it and try again later, never kill the queue)
            delay = self._backoff(push.attempts)
            log.error("push of %s failed (attempt %d), trying again in %.0fs: %s", push.label, push.attempts + 1, delay, error)
            self.store.push_failed(push, _one_line(error), now() + timedelta(seconds=delay))
        else:
            self.store.push_done(push)
        finally:
            with self._condition:
                self._busy = False

    def _backoff(self, attempts: int) -> float:
        step = min(self.retry_max, self.retry_base * 2**attempts)
        return step / 2 + random.uniform(0, step / 2)


def _one_line(error: Exception) -> str:
    text = str(error).strip() or error.__class__.__name__
    return " ".join(text.split())[:500]
