"""The "Google Apps" extension of the host's user manager: a switch and event handlers.

The host toggles the user's membership of ``google_apps_plugin`` itself, then
calls a handler. Handlers only queue a targeted push and return: a small worker
thread runs the pushes, one per user however many events arrived for it within
the debounce delay. Nothing here raises into the host or blocks its request.

A new password arrives in cleartext; it is hashed at once (SHA-512 crypt, which
Google accepts) and only the hash is queued. The cleartext is never kept.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .libraries import config_file, passwords, push_queue

log = logging.getLogger(__name__)

CRYPT = "crypt"
DEFAULT_DELAY = 2.0


def _default_push_user(config_path: str, uid: str, uuid: str = ""):
    from .libraries import jobs  # noqa: PLC0415  (the engine loads only when a push actually runs)

    return jobs.push_user(config_path, uid, uuid=uuid)


def _default_push_password(config_path: str, uid: str, hash_value: str, hash_function: str):
    from .libraries import jobs  # noqa: PLC0415

    return jobs.push_password(config_path, uid, hash_value, hash_function)


def is_connected(config_path: str) -> bool:
    """Pushes only go out while Google credentials are configured (Disconnect removes them)."""
    try:
        return bool(config_file.value(config_file.read(config_path), "google", "credentials_file"))
    except Exception:  # noqa: BLE001  (an unreadable file just means: do not push)
        return False


class PushQueue:
    """The extension's pushes: the library's debounced queue, plus the password hash waiting for each user."""

    def __init__(
        self,
        config_path: str,
        delay: float = DEFAULT_DELAY,
        push_user: Callable[[str, str, str], object] = _default_push_user,
        push_password: Callable[[str, str, str, str], object] = _default_push_password,
        connected: Callable[[str], bool] = is_connected,
    ):
        self.config_path = config_path
        self._push_user = push_user
        self._push_password = push_password
        self._connected = connected
        self._hashes: dict[str, str] = {}  # uid → the latest new password's hash, until pushed
        self._uuids: dict[str, str] = {}  # uid → entryUUID of a deleted user, so the engine finds its account
        self._lock = threading.Lock()
        self._queue = push_queue.PushQueue(self._push, delay=delay, name="google-sync-console-push")

    def submit(self, uid: str, password_hash: str = "", uuid: str = "") -> None:
        with self._lock:
            if password_hash:
                self._hashes[uid] = password_hash  # a password push also pushes the rest of the user
            if uuid:
                self._uuids[uid] = uuid
        self._queue.put(uid)

    def waiting_passwords(self) -> set[str]:
        """Users whose new password is still to be pushed (never the hashes)."""
        with self._lock:
            return set(self._hashes)

    @property
    def busy(self) -> bool:
        return not self._queue.idle()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until nothing is queued or running (for tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while not self._queue.idle():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self) -> None:
        self._queue.stop()

    def _push(self, uid: str) -> None:
        with self._lock:
            password_hash = self._hashes.pop(uid, "")
            uuid = self._uuids.pop(uid, "")
        if not self._connected(self.config_path):
            log.info("not pushing %s: Google is not connected", uid)
            return
        if password_hash:
            log.info("pushing user %s with a new password", uid)
            self._push_password(self.config_path, uid, password_hash, CRYPT)
        else:
            log.info("pushing user %s", uid)
            self._push_user(self.config_path, uid, uuid)


class GoogleAppsExtension:
    """What the host's user manager shows (a switch) and calls (event handlers)."""

    name = "google_apps"
    label = "Google Apps"
    plugin_group = "google_apps_plugin"
    description = "Synchronize this account, its password and its groups to Google Apps. Turning it off suspends the Google account; it is never deleted."

    def __init__(self, queue: PushQueue):
        self.queue = queue

    def user_added(self, uid: str) -> None:
        self._queue(uid)

    def user_updated(self, uid: str) -> None:
        self._queue(uid)

    def user_deleted(self, uid: str, uuid: str = "") -> None:
        # The entry is gone: the engine finds the account through the link of its entryUUID and suspends it.
        self._queue(uid, uuid=uuid)

    def switch_toggled(self, uid: str, enabled: bool) -> None:
        self._queue(uid)

    def password_changed(self, uid: str, cleartext: str) -> None:
        try:
            hashed = passwords.sha512_crypt(cleartext)  # default 5000 rounds: Google accepts at most 10000
        except Exception:  # noqa: BLE001
            log.error("cannot hash the new password of %s; a later full synchronization will push the directory's", uid)
            return
        self._queue(uid, hashed)

    def _queue(self, uid: str, password_hash: str = "", uuid: str = "") -> None:
        try:
            if uid:
                self.queue.submit(str(uid), password_hash, uuid)
        except Exception:  # noqa: BLE001  (never fail the host's request)
            log.exception("cannot queue a push for %s", uid)
