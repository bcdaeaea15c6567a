"""Job functions with importable names and picklable arguments, for APScheduler and background pushes.

Each job loads the configuration afresh (the administrator may have changed it
since the job was scheduled, or disconnected Google) and goes through the
engine, whose lock keeps runs from overlapping. The scheduled run logs and
records its errors, never raising into the scheduler; a push raises, so that
the durable push queue keeps it and tries again.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from ..core.errors import GoogleSyncError, RunLocked
from ..core.model import PasswordHash
from ..core.passwords import CRYPT
from ..ops import notify
from ..settings import config
from ..sync.engine import Report, SyncEngine

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


# A push retries Google's transient errors briefly itself; the queue retries it for as long as needed after that.
PUSH_RETRY_DEADLINE = 60.0
PUSH_LOCK_WAIT = 2.0  # seconds a push waits for a running synchronization before the queue tries again later


def run_push(config_path: str, kind: str, name: str, uuid: str = "", password_hash: str = "", trigger: str = "push") -> Report | None:
    """One queued push, for the durable queue: raises unless it was applied (RunLocked when a run holds the lock).

    Nothing is pushed while Google is disconnected: the push is dropped, and the
    full synchronization after reconnecting covers it. A failure also looks whether
    a push has now failed long enough to tell someone (``notify``).
    """
    try:
        return _push(config_path, kind, name, uuid, password_hash, trigger)
    except RunLocked:
        raise
    except Exception:
        notify.check_after(config_path)
        raise


def _push(config_path: str, kind: str, name: str, uuid: str, password_hash: str, trigger: str) -> Report | None:
    label = f"{kind} {name or uuid}"
    settings = config.load(config_path)
    if not settings.google.credentials_file:
        log.info("push of %s skipped: Google is not connected", label)
        return None
    engine = SyncEngine(settings, retry_deadline=PUSH_RETRY_DEADLINE)
    if kind == "group":
        report = engine.push_group(name, trigger=trigger, lock_timeout=PUSH_LOCK_WAIT)
    else:
        password = PasswordHash(password_hash, CRYPT) if password_hash else None
        report = engine.push_user(name, trigger=trigger, password=password, uuid=uuid, lock_timeout=PUSH_LOCK_WAIT)
    transient = [result for result in report.failures if result.transient]
    if transient:
        raise PushNotDone(f"{len(transient)} change(s) not applied yet: {transient[0].change.action} {transient[0].change.subject}: {transient[0].message}")
    log.info("push of %s: %s%s", label, report.outcome, f" ({report.message})" if report.message else "")
    for notice in report.plan.notices if report.plan else ():
        if notice.level == "warning":  # a skipped user or group: the worker's log is where a push can say so
            log.warning("push of %s: %s: %s", label, notice.subject, notice.message)
    return report
