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
from dataclasses import dataclass
from typing import Callable

from .libraries import config_file, passwords

log = logging.getLogger(__name__)

CRYPT = "crypt"
DEFAULT_DELAY = 2.0


@dataclass
class _Pending:
    due: float
    password_hash: str = ""


def _default_push_user(config_path: str, uid: str):
    from .libraries import jobs  # noqa: PLC0415  (the engine loads only when a push actually runs)

    return jobs.push_user(config_path, uid)


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
    """Debounced, per-user pushes run by one daemon thread."""

    def __init__(
        self,
        config_path: str,
        delay: float = DEFAULT_DELAY,
        push_user: Callable[[str, str], object] = _default_push_user,
        push_password: Callable[[str, str, str, str], object] = _default_push_password,
        connected: Callable[[str], bool] = is_connected,
    ):
        self.config_path = config_path
        self.delay = delay
        self._push_user = push_user
        self._push_password = push_password
        self._connected = connected
        self._pending: dict[str, _Pending] = {}
        self._busy = 0
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(self, uid: str, password_hash: str = "") -> None:
        with self._condition:
            entry = self._pending.setdefault(uid, _Pending(due=0.0))
            entry.due = time.monotonic() + self.delay
            entry.password_hash = password_hash or entry.password_hash  # a password push also pushes the user
            self._ensure_thread()
            self._condition.notify_all()

    def pending(self) -> dict[str, str]:
        """uid → "password" or "user": what is waiting (never the hash)."""
        with self._condition:
            return {uid: ("password" if entry.password_hash else "user") for uid, entry in self._pending.items()}

    def activity(self) -> int:
        """How many users are waiting to be pushed or being pushed now."""
        with self._condition:
            return len(self._pending) + self._busy

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until nothing is queued or running (for tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.05))
        return True

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopped = False
            self._thread = threading.Thread(target=self._run, name="google-sync-push", daemon=True)
            self._thread.start()

    def _next_due(self) -> tuple[str, _Pending] | None:
        """The next push whose delay has passed, waiting for one; None once stopped."""
        with self._condition:
            while not self._stopped:
                now = time.monotonic()
                due = [(entry.due, uid) for uid, entry in self._pending.items() if entry.due <= now]
                if due:
                    uid = min(due)[1]
                    self._busy += 1
                    return uid, self._pending.pop(uid)
                wake = min((entry.due for entry in self._pending.values()), default=now + 60) - now
                self._condition.wait(max(wake, 0.01))
            return None

    def _run(self) -> None:
        while (item := self._next_due()) is not None:
            uid, entry = item
            try:
                self._push(uid, entry)
            except Exception:  # noqa: BLE001  (a failed push is logged and recorded; the next full run catches up)
                log.exception("background push of %s failed", uid)
            finally:
                with self._condition:
                    self._busy -= 1
                    self._condition.notify_all()

    def _push(self, uid: str, entry: _Pending) -> None:
        if not self._connected(self.config_path):
            log.info("not pushing %s: Google is not connected", uid)
            return
        if entry.password_hash:
            log.info("pushing user %s with a new password", uid)
            self._push_password(self.config_path, uid, entry.password_hash, CRYPT)
        else:
            log.info("pushing user %s", uid)
            self._push_user(self.config_path, uid)


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
        # The engine finds a vanished uid through its links and suspends the account.
        self._queue(uid)

    def switch_toggled(self, uid: str, enabled: bool) -> None:
        self._queue(uid)

    def password_changed(self, uid: str, cleartext: str) -> None:
        try:
            hashed = passwords.sha512_crypt(cleartext)  # default 5000 rounds: Google accepts at most 10000
        except Exception:  # noqa: BLE001
            log.error("cannot hash the new password of %s; a later full synchronization will push the directory's", uid)
            return
        self._queue(uid, hashed)

    def _queue(self, uid: str, password_hash: str = "") -> None:
        try:
            if uid:
                self.queue.submit(str(uid), password_hash)
        except Exception:  # noqa: BLE001  (never fail the host's request)
            log.exception("cannot queue a push for %s", uid)
