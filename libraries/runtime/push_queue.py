"""A durable queue of targeted pushes, run in batches on a background thread.

A push is written to the state database when the change is seen and removed
only by the push that saw the object's latest request, so nothing is lost to
an outage, a restart, a long run holding the lock, or a request arriving while
the same object's push runs (that one runs again after it):
- a changed entry that was quiet is pushed at once (after ``settle``, a tenth
  of a second, so that the several modifications of one save go together);
  edits arriving while its push is queued or running, or within ``delay``
  seconds after it, are coalesced into one more push (one row per object);
- due pushes are claimed together and applied in one run (one batch request
  for many users' changes, as a full run does); each one's row is then done or
  failed on its own results, so one user's failure fails nobody else;
- a push that fails goes back to the queue at once and is tried again with
  exponential backoff, capped at ``retry_max`` seconds, for as long as it
  takes, across restarts; new edits go before old retries;
- when Google does not answer at all (unreachable, or 5xx for a whole batch
  that held a new edit, or for everything tried during 5 s), the queue backs
  off as a whole: one push at a time is tried as a probe (a new edit at most
  every second, else the push waiting longest, 1 s then doubling up to 3 s
  apart); the first push Google answers makes every waiting push due at once;
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
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from ..core.errors import GoogleSyncError, RunLocked
from ..core.stopping import Stopped, requested
from ..state.store import QueuedPush, Store, database_problem, now

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)  # a claimed push is left to its process this long (longer than any push runs)
POLL = 2.0  # seconds between looks for pushes queued by other processes
LOCKED_RETRY = 1.0  # seconds before a push that found a synchronization running looks again
CLOCK_SLACK = 60.0  # seconds beyond the longest wait this queue sets before a due time means the clock went back
RETRY_BASE = 1.0  # seconds before the first retry of a failed push; doubled each time up to retry_max
SETTLE = 0.1  # seconds a quiet entry's first request waits for the rest of its save (several modify operations)
BATCH = 100  # pushes claimed and applied in one run
PROBE_FIRST, PROBE_MAX = 1.0, 3.0  # seconds between probes while Google does not answer: doubling up to the cap
# Pushes tried again that meet no answer while Google answered others this recently have their own trouble (backoff
# each); after that, or when a new edit meets no answer too, Google itself is taken as not answering.
ANSWERED_RECENTLY = 5.0

Outcomes = dict  # push key -> None when applied, else the exception that says why not
BatchHandler = Callable[[list[QueuedPush]], Outcomes]
Handler = Callable[[QueuedPush], None]  # raises when the push was not (wholly) applied


class GoogleUnavailable(GoogleSyncError):
    """A push not applied because Google did not answer (unreachable, or a server error after quick retries):
    it says nothing about the push itself."""


def push_key(kind: str, name: str, uuid: str = "") -> str:
    """One row per object, however it was seen: by name, or by entryUUID once it is gone from the directory."""
    return f"{kind}:{name.lower()}" if name else f"{kind}-uuid:{uuid}"


def one_by_one(handler: Handler) -> BatchHandler:
    """A batch handler from a handler of one push: each in turn, each with its own outcome."""

    def handle(pushes: list[QueuedPush]) -> Outcomes:
        outcomes: Outcomes = {}
        for push in pushes:
            try:
                handler(push)
                outcomes[push.key] = None
            except Stopped as error:  # the process is stopping: the rest stay queued as well
                for rest in pushes[len(outcomes) :]:
                    outcomes[rest.key] = error
                break
            except Exception as error:  # noqa: BLE001  (each push's own failure, kept with it)
                outcomes[push.key] = error
        return outcomes

    return handle


class _GoogleDown:
    """Whether Google answered the last pushes; while it does not, when to probe with one failed push."""

    def __init__(self):
        self.since: float | None = None  # monotonic time the first batch went unanswered (None: Google answers)
        self.last_answer = float("-inf")  # monotonic time a push was last applied
        self.interval = PROBE_FIRST
        self.probe_at = 0.0
        self.probed_at = float("-inf")

    @property
    def active(self) -> bool:
        return self.since is not None

    def unanswered(self) -> None:
        moment = time.monotonic()
        if self.since is None:
            self.since, self.interval = moment, PROBE_FIRST
        else:
            self.interval = min(PROBE_MAX, self.interval * 2)
        self.probe_at = moment + self.interval
        self.probed_at = moment

    def probe_due(self) -> bool:
        return time.monotonic() >= self.probe_at

    def may_probe_early(self) -> bool:
        """A new edit may go as a probe this soon after the last one: it may be what tells that Google is back."""
        return time.monotonic() >= self.probed_at + PROBE_FIRST

    def probed(self) -> None:
        self.probed_at = time.monotonic()
        self.probe_at = self.probed_at + self.interval

    def answered(self) -> float | None:
        """Google answered: the outage (if any) is over; returns how long it lasted."""
        self.last_answer = time.monotonic()
        lasted = None if self.since is None else self.last_answer - self.since
        self.since = None
        return lasted

    def answered_recently(self) -> bool:
        return time.monotonic() - self.last_answer < ANSWERED_RECENTLY


class PushQueue:
    def __init__(
        self,
        store: Store,
        handler: Handler | None = None,
        delay: float = 2.0,
        retry_max: float = 600.0,
        retry_base: float = RETRY_BASE,
        name: str = "google-sync-push",
        batch_handler: BatchHandler | None = None,
        batch: int = BATCH,
        settle: float = SETTLE,
    ):
        if batch_handler is not None and handler is None:
            self.batch_handler = batch_handler
        elif handler is not None and batch_handler is None:
            self.batch_handler = one_by_one(handler)
        else:
            raise ValueError("give a push queue either a handler or a batch_handler")
        self.store = store
        self.delay, self.settle, self.batch = delay, min(settle, delay), batch
        self.retry_max, self.retry_base = retry_max, retry_base
        # Due times are wall-clock times in the database (shared by processes and restarts). No wait this queue sets is
        # longer than this: a push due further ahead was queued before the clock went back (an NTP step, a manual date).
        self.horizon = timedelta(seconds=max(delay, retry_max, retry_base, LOCKED_RETRY) + CLOCK_SLACK)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{name}:{id(self):x}"
        self.google = _GoogleDown()
        self._pushed: dict[str, float] = {}  # key -> monotonic time its last push by this queue ended
        self._condition = threading.Condition()
        self._stopping = False
        self._busy = False
        self.store.release_stale_claims()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, kind: str, name: str, uuid: str = "", trigger: str = "push", password_hash: str = "") -> None:
        """Ask for a push of one object: at once when it was quiet, else with the rest of its burst."""
        key = push_key(kind, name, uuid)
        since_pushed = time.monotonic() - self._pushed.get(key, float("-inf"))
        # Pushed moments ago: this edit is part of a burst, and goes ``delay`` after that push.
        due = now() + timedelta(seconds=max(self.settle, self.delay - since_pushed))
        self.store.enqueue_push(key, kind, name, uuid, trigger, due, password_hash, delay=self.delay)
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
            log.warning(
                "push queue: cannot release its claims in the state database (%s); they lapse within %s",
                database_problem(error),
                LEASE,
            )

    def idle(self) -> bool:
        """Nothing running and nothing waiting for its first attempt (pushes waiting to be retried do not count)."""
        with self._condition:
            if self._busy:
                return False
        return not any(push.attempts == 0 for push in self.store.queued_pushes())

    def _run(self) -> None:
        unsettled = False  # a batch's outcomes may not all be recorded: its claims are let go before the next claim
        while not self._stopping:
            try:
                if (
                    unsettled
                ):  # its pushes run again (one that applied is only pushed once more), rather than after the lease
                    self.store.release_pushes(self.owner)
                    unsettled = False
                # Once the process is stopping no push starts: it would only be cut short (and one cut short is due at once).
                pushes = [] if requested() else self._claim()
                if pushes:
                    self._handle(pushes)
                    continue
                wait = self._wait()
            except (
                SQLAlchemyError
            ) as error:  # the database is briefly unavailable (locked, restarting): an expected fault, one line
                log.warning(
                    "push queue: cannot use the state database (%s); trying again in %ss, nothing queued is lost",
                    database_problem(error),
                    POLL,
                )
                wait, unsettled = POLL, True
            except Exception:  # a bug: never let the thread die, and keep the traceback for the report
                log.exception("push queue: unexpected error; trying again in %ss", POLL)
                wait, unsettled = POLL, True
            with self._condition:
                if not self._stopping:
                    self._condition.wait(timeout=wait)

    def _claim(self) -> list[QueuedPush]:
        """The next batch: new edits first, in batches of their own (never slowed by pushes failing again), then
        pushes to try again. While Google does not answer: one push at a time, as a probe (a new edit, else the
        push waiting longest), at most every PROBE_FIRST seconds for a new edit and every probe interval else."""
        if not self.google.active:
            return self.store.claim_pushes(self.owner, LEASE, self.batch, only_fresh=True) or self.store.claim_pushes(
                self.owner, LEASE, self.batch
            )
        pushes = []
        if self.google.probe_due():
            pushes = self.store.claim_pushes(self.owner, LEASE, 1)
        elif self.google.may_probe_early():
            pushes = self.store.claim_pushes(self.owner, LEASE, 1, only_fresh=True)
        if pushes:
            self.google.probed()
        return pushes

    def _wait(self) -> float:
        due = self.store.next_push_due(only_fresh=self.google.active)
        moment = now()
        if (
            due is not None and due - moment > self.horizon
        ):  # else the push would wait for as long as the clock went back
            moved = self.store.bring_pushes_forward(moment + self.horizon, moment)
            log.warning(
                "push queue: %d push(es) were due later than any wait this queue sets (by %s): the system clock "
                "went back; they go now",
                moved,
                str(due - moment).split(".")[0],
            )
            return 0.05
        wait = POLL if due is None else (due - moment).total_seconds()
        if self.google.active:  # one probe: a new edit at most every PROBE_FIRST seconds, any waiting push at probe_at
            moment_now = time.monotonic()
            wait = min(max(wait, self.google.probed_at + PROBE_FIRST - moment_now), self.google.probe_at - moment_now)
        return min(POLL, max(0.05, wait))

    def _handle(self, pushes: list[QueuedPush]) -> None:
        with self._condition:
            self._busy = True
        try:
            try:
                outcomes = self.batch_handler(pushes)
            except Exception as error:  # noqa: BLE001  (the whole batch failed: each push keeps the reason)
                outcomes = {push.key: error for push in pushes}
            self._follow_google(pushes, outcomes)
            ended = time.monotonic()
            for push in pushes:
                self._settle(push, outcomes.get(push.key, RuntimeError("the push gave no outcome")), ended)
        finally:
            with self._condition:
                self._busy = False

    def _follow_google(self, pushes: list[QueuedPush], outcomes: Outcomes) -> None:
        """Whether Google answers: any push applied says yes; a batch of which none was applied and some met no
        answer says no (an outage, or Google's endpoint unreachable), unless those were only pushes tried again
        while Google answered others moments ago."""
        if any(outcomes.get(push.key) is None for push in pushes):
            lasted = self.google.answered()
            if lasted is not None:
                waiting = self.store.retry_failed_now()
                log.warning("push queue: Google answers again after %.0fs; %d waiting push(es) go now", lasted, waiting)
        elif unanswered := [push for push in pushes if isinstance(outcomes.get(push.key), GoogleUnavailable)]:
            if not (
                self.google.active
                or any(push.attempts == 0 for push in unanswered)
                or not self.google.answered_recently()
            ):
                return  # only pushes tried again, while Google answered others moments ago: their own trouble
            if not self.google.active:
                log.warning(
                    "push queue: Google does not answer; one push at a time is tried, every few seconds, until it "
                    "answers again: then everything waiting goes"
                )
            self.google.unanswered()

    def _settle(self, push: QueuedPush, outcome: Exception | None, ended: float) -> None:
        """Record one push's outcome on its own row."""
        if outcome is None:
            self._pushed[push.key] = ended
            self._forget_old_pushes(ended)
            self.store.push_done(push)
        elif isinstance(outcome, RunLocked):
            log.info("push of %s waits for the synchronization that is running", push.label)
            self.store.push_failed(
                push,
                "waiting for a running synchronization to finish",
                now() + timedelta(seconds=LOCKED_RETRY),
                counts=False,
            )
        elif isinstance(
            outcome, Stopped
        ):  # the process is stopping: not the push's failure; it stays queued, due at once for the next start
            log.info("push of %s cut short by the stop; it stays queued", push.label)
            self.store.push_failed(
                push, "cut short by a stop of the worker; tried again when it starts", now(), counts=False
            )
        elif (
            isinstance(outcome, GoogleUnavailable) and self.google.active
        ):  # waits for the probe, not for a backoff of its own
            log.error(
                "push of %s failed (attempt %d), Google does not answer: %s", push.label, push.attempts + 1, outcome
            )
            self.store.push_failed(push, _one_line(outcome), now())
        else:  # any failure: keep it and try again later, never kill the queue
            delay = self._backoff(push.attempts)
            log.error(
                "push of %s failed (attempt %d), trying again in %.1fs: %s",
                push.label,
                push.attempts + 1,
                delay,
                outcome,
            )
            self.store.push_failed(push, _one_line(outcome), now() + timedelta(seconds=delay))

    def _forget_old_pushes(self, moment: float) -> None:
        if len(self._pushed) > 4 * self.batch:
            self._pushed = {key: ended for key, ended in self._pushed.items() if moment - ended < self.delay}

    def _backoff(self, attempts: int) -> float:
        step = min(self.retry_max, self.retry_base * 2**attempts)
        return step / 2 + random.uniform(0, step / 2)


def _one_line(error: Exception) -> str:
    text = str(error).strip() or error.__class__.__name__
    return " ".join(text.split())[:500]
