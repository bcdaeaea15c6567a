"""Job functions with importable names and picklable arguments, for APScheduler and background pushes.

Each job loads the configuration afresh (the administrator may have changed it
since the job was scheduled, or disconnected Google) and goes through the
engine, whose lock keeps runs from overlapping. The scheduled run logs and
records its errors, never raising into the scheduler; a push raises, so that
the durable push queue keeps it and tries again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.errors import GoogleSyncError, RunLocked
from ..core.model import PasswordHash
from ..core.passwords import CRYPT
from ..google.answers import TargetError
from ..google.google_target import TokenError, load_credentials, read_key, required_scopes
from ..ops import notify
from ..ops.monitoring import PUSH_TRIGGERS
from ..settings import config
from ..state.store import QueuedPush, Store, now
from ..sync.engine import PushBatch, PushTarget, Report, SyncEngine
from .push_queue import GoogleUnavailable, push_key

log = logging.getLogger(__name__)


class NotConnected(GoogleSyncError):
    """No Google credentials are configured (never connected, or disconnected in the console)."""


def _attempt(config_path: str, what: str, action: Callable[[SyncEngine], Report]) -> Report | None:
    try:
        settings = config.load(config_path)
        if not settings.google.credentials_file:
            raise NotConnected("Google is not connected ([google] credentials_file is empty)")
        report = action(SyncEngine(settings))
    except NotConnected as error:
        log.info("%s skipped: %s", what, error)
        return None
    except GoogleSyncError as error:
        log.error("%s not done: %s", what, error)
        return None
    log.info("%s: %s%s", what, report.outcome, f" ({report.message})" if report.message else "")
    return report


def full_sync(config_path: str, trigger: str = "scheduler") -> Report | None:
    """The periodic reconciliation: repairs anything a push missed; then the [offboarding] transfers due are started
    and those running read back. Then tells whoever [notify] names, if due."""
    report = _attempt(config_path, f"{trigger} synchronization", lambda engine: engine.sync(trigger=trigger))
    data_transfers(config_path)
    notify.check_after(config_path)
    return report


def data_transfers(config_path: str, lock_timeout: float = 2.0) -> list[str]:
    """The [offboarding] transfers that are due started, those running read back; never raises (a run holding the
    lock, or Google failing, leaves them for the next look: the leavers table keeps them)."""
    try:
        settings = config.load(config_path)
        if not (settings.google.credentials_file and settings.offboarding.transfer_data_to):
            return []
        return SyncEngine(settings).run_transfers(lock_timeout=lock_timeout)
    except GoogleSyncError as error:
        log.info("data transfers not looked at now: %s", error)
        return []


class TransferLooks:
    """For the worker's tick: data_transfers at most every ``every`` seconds (Google's transfers take minutes to days)."""

    def __init__(self, config_path: str, every: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self.config_path, self.every, self.clock = config_path, every, clock
        self.last: float | None = None

    def __call__(self) -> None:
        if self.last is not None and self.clock() - self.last < self.every:
            return
        self.last = self.clock()
        try:
            data_transfers(self.config_path)
        except Exception:  # noqa: BLE001  (the worker's tick must never fail: the next look tries again)
            log.exception("data transfers could not be looked at")


class PushNotDone(GoogleSyncError):
    """A push ran but some of its changes failed for a reason that may pass (Google or the network): try again."""


# A push retries Google's transient errors only briefly itself (a few tenths of a second): then it goes back to the
# queue, which tries it again with backoff while the other pushes go on.
PUSH_RETRY_DEADLINE = 0.8
PUSH_RETRY_BASE = 0.1  # seconds before a push's first quick retry, doubled each time
PUSH_LOCK_WAIT = 2.0  # seconds a push waits for a running synchronization before the queue tries again later


def run_push(
    config_path: str, kind: str, name: str, uuid: str = "", password_hash: str = "", trigger: str = "push"
) -> Report | None:
    """One queued push, for the durable queue: raises unless it was applied (RunLocked when a run holds the lock).

    Nothing is pushed while Google is disconnected: the push is dropped, and the
    full synchronization after reconnecting covers it. A failure also looks whether
    a push has now failed long enough to tell someone (``notify``).
    """
    push = QueuedPush(push_key(kind, name, uuid), kind, name, uuid, password_hash, trigger, now(), now(), 0, "", 0)
    batch = run_pushes(config_path, [push])
    outcome = batch.outcomes[push.key]
    if outcome is not None:
        raise outcome
    return batch.report


@dataclass
class PushRun:
    """What a batch of queued pushes gave: each push's outcome (None: applied), and the run's report."""

    outcomes: dict[str, Exception | None]
    report: Report | None = None


def run_pushes(config_path: str, pushes: list[QueuedPush], store: Store | None = None) -> PushRun:
    """Queued pushes in one run (see SyncEngine.push_many), each with its own outcome: None when applied (or when
    Google refused it for good: the log and the run's results say why, and the next full run tries again), else
    the exception that keeps it queued (RunLocked when a run holds the lock, GoogleUnavailable when Google did not
    answer). A failure also looks whether a push has now failed long enough to tell someone (``notify``).

    The configuration is read once (the console may have changed it since the last push) and the push, from its
    plan to the notification, goes on with that one settings object and one state database: the queue's, when the
    file still names it."""
    try:
        settings = config.load(config_path)
    except GoogleSyncError as error:  # every push waits for a configuration that loads
        return PushRun({push.key: error for push in pushes})
    if store is not None and store.url == settings.sync.database:
        return _run(settings, store, pushes)
    own = Store(settings.sync.database)  # none given, or the file names another database now
    try:
        return _run(settings, own, pushes)
    finally:
        own.close()


def _run(settings: config.Settings, store: Store, pushes: list[QueuedPush]) -> PushRun:
    try:
        run = _push_batch(settings, store, pushes)
    except Exception as error:  # noqa: BLE001  (every push of the batch keeps the reason)
        run = PushRun({push.key: _waiting(error) for push in pushes})
    if settings.notify.enabled and any(
        outcome is not None and not isinstance(outcome, RunLocked) for outcome in run.outcomes.values()
    ):
        notify.check_quietly(settings, store)
    return run


def _push_batch(settings: config.Settings, store: Store, pushes: list[QueuedPush]) -> PushRun:
    if not settings.google.credentials_file:
        for push in pushes:
            log.info("push of %s skipped: Google is not connected", push.label)
        return PushRun({push.key: None for push in pushes})
    # Pushes that failed before are tried once, without quick retries: the queue's backoff is their retry.
    deadline = PUSH_RETRY_DEADLINE if any(push.attempts == 0 for push in pushes) else 0.0
    engine = SyncEngine(
        settings, store=store, retry_deadline=deadline, retry_base=PUSH_RETRY_BASE, credentials=_credentials(settings)
    )
    targets = [
        PushTarget(
            push.key,
            push.kind,
            push.name,
            push.uuid,
            PasswordHash(push.password_hash, CRYPT) if push.password_hash else None,
        )
        for push in pushes
    ]
    batch = engine.push_many(targets, trigger=_run_trigger(pushes), lock_timeout=PUSH_LOCK_WAIT)
    return PushRun({push.key: _outcome(batch, push) for push in pushes}, batch.report)


# One per key file content and identity: pushes skip parsing the key and asking a token.
_CREDENTIALS: dict[str, object] = {}


def _credentials(settings):
    """The credentials of the previous push when the key file, the identity and the scopes are the same: a push then
    costs neither the key's parsing nor a token request (the token is renewed when it expires). Held in memory only,
    as any run holds them."""
    info = read_key(settings.google)
    scopes = required_scopes(settings)
    identity = hashlib.sha256(
        json.dumps([info, settings.google.admin_email, settings.google.token_uri, scopes], sort_keys=True).encode()
    ).hexdigest()
    if identity not in _CREDENTIALS:
        _CREDENTIALS.clear()  # the key or the settings changed: the old credentials go
        _CREDENTIALS[identity] = load_credentials(settings.google, scopes)
    return _CREDENTIALS[identity]


def _run_trigger(pushes: list[QueuedPush]) -> str:
    """The batch's run says who asked, when they all came from one place (the console's are the user manager's)."""
    triggers = {"user-manager" if push.trigger == "console" else push.trigger for push in pushes}
    trigger = triggers.pop() if len(triggers) == 1 else "push"
    return trigger if trigger in PUSH_TRIGGERS else "push"


def _outcome(batch: PushBatch, push: QueuedPush) -> Exception | None:
    if push.key in batch.errors:
        return _waiting(batch.errors[push.key])
    if batch.failure is not None:  # the run as a whole (a synchronization holds the lock, Google unreachable, a stop)
        return _waiting(batch.failure)
    results = batch.results_of(push.key)
    transient = [result for result in results if not result.ok and result.transient]
    for result in results:
        if not result.ok and not result.transient:
            log.error("push of %s: %s %s: %s", push.label, result.change.action, result.change.subject, result.message)
    if transient:
        first = transient[0]
        kind = GoogleUnavailable if all(result.unavailable for result in transient) else PushNotDone
        return kind(
            f"{len(transient)} change(s) not applied yet: {first.change.action} {first.change.subject}: {first.message}"
        )
    plan = batch.plans.get(push.key)
    for notice in plan.notices if plan else ():
        if notice.level == "warning":  # a skipped user or group: the worker's log is where a push can say so
            log.warning("push of %s: %s: %s", push.label, notice.subject, notice.message)
    log.info("push of %s: %s", push.label, "applied" if results else "in step")
    return None


def _waiting(error: Exception | None) -> Exception | None:
    """The error that keeps a push queued; a Google that did not answer is said as such (the queue backs off as a whole)."""
    if isinstance(error, TargetError) and not isinstance(error, TokenError) and error.unavailable:
        return GoogleUnavailable(str(error))
    return error
