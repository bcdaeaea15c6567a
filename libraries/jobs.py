"""Job functions with importable names and picklable arguments, for APScheduler and background pushes.

Each job loads the configuration afresh (the administrator may have changed it
since the job was scheduled, or disconnected Google) and goes through the
engine, whose lock keeps runs from overlapping. Errors are logged and recorded,
never raised into the scheduler or the push queue.
"""
from __future__ import annotations

import logging
from typing import Callable

from . import config
from .engine import Report, SyncEngine
from .errors import GoogleSyncError
from .model import PasswordHash

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
    """The periodic reconciliation: repairs anything a push missed."""
    return _attempt(config_path, f"{trigger} synchronization", lambda engine: engine.sync(trigger=trigger))


def push_user(config_path: str, uid: str, trigger: str = "push", uuid: str = "") -> Report | None:
    """A targeted push of one user (and its memberships): O(1) API calls. ``uuid`` finds a user already deleted."""
    return _attempt(config_path, f"push of user {uid or uuid}", lambda engine: engine.push_user(uid, trigger=trigger, uuid=uuid))


def push_group(config_path: str, name: str, trigger: str = "push") -> Report | None:
    """A targeted push of one group: its entry, its members, that group in Google."""
    return _attempt(config_path, f"push of group {name}", lambda engine: engine.push_group(name, trigger=trigger))


def push_password(config_path: str, uid: str, hash_value: str, hash_function: str, trigger: str = "password") -> Report | None:
    """Push a password hashed at change time (never the cleartext)."""
    password = PasswordHash(hash_value, hash_function)
    return _attempt(config_path, f"password push for {uid}", lambda engine: engine.push_user(uid, trigger=trigger, password=password))
