"""Job functions with importable names and picklable arguments, for APScheduler and background pushes.

Each job loads the configuration afresh (the administrator may have changed it
since the job was scheduled) and goes through the engine, whose lock keeps
runs from overlapping.
"""
from __future__ import annotations

import logging

from . import config
from .engine import Report, SyncEngine
from .errors import GoogleSyncError
from .model import PasswordHash

log = logging.getLogger(__name__)


def _engine(config_path: str) -> SyncEngine:
    return SyncEngine(config.load(config_path))


def full_sync(config_path: str, trigger: str = "scheduler") -> Report | None:
    """The periodic reconciliation. Refusals and errors are logged and recorded, never raised into the scheduler."""
    try:
        report = _engine(config_path).sync(trigger=trigger)
    except GoogleSyncError as error:
        log.error("%s synchronization not done: %s", trigger, error)
        return None
    log.info("%s synchronization %s: %s", trigger, report.outcome, report.message or "ok")
    return report


def push_user(config_path: str, uid: str, trigger: str = "push") -> Report | None:
    """A targeted push of one user (and its memberships): O(1) API calls."""
    try:
        return _engine(config_path).push_user(uid, trigger=trigger)
    except GoogleSyncError as error:
        log.error("push of user %s not done: %s", uid, error)
        return None


def push_password(config_path: str, uid: str, hash_value: str, hash_function: str, trigger: str = "password") -> Report | None:
    """Push a password hashed at change time (never the cleartext)."""
    try:
        return _engine(config_path).push_user(uid, trigger=trigger, password=PasswordHash(hash_value, hash_function))
    except GoogleSyncError as error:
        log.error("password push for %s not done: %s", uid, error)
        return None
