"""The "Google Apps" extension of the host's user manager: a switch and event handlers.

The host toggles the user's membership of ``google_apps_plugin`` itself, then
calls a handler. Handlers only queue a targeted push and return: the push is
written to the state database (so it survives a failure or a restart) and a
small worker thread runs it, one per user however many events arrived for it
within the debounce delay. Nothing here raises into the host or blocks its request.

Pushes go in batches: what is due together is applied in one run (see the
library's push queue); each push keeps its own outcome.

A new password arrives in cleartext; it is hashed at once (SHA-512 crypt, which
Google accepts) and only the hash is queued, until pushed. The cleartext is never kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .libraries.core import passwords
from .libraries.runtime import push_queue
from .libraries.settings import config, config_file
from .libraries.state.store import Store

log = logging.getLogger(__name__)

DEFAULT_DELAY = 2.0


def _run_pushes(config_path: str, pushes: list) -> dict:
    from .libraries.runtime import jobs  # noqa: PLC0415  (the engine loads only when a push actually runs)

    return jobs.run_pushes(config_path, pushes).outcomes


def is_connected(config_path: str) -> bool:
    """Pushes only go out while Google credentials are configured (Disconnect removes them)."""
    try:
        return bool(config_file.value(config_file.read(config_path), "google", "credentials_file"))
    except Exception:  # noqa: BLE001  (an unreadable file just means: do not push)
        return False


def _state_database(config_path: str) -> str:
    """The state database named by the configuration, even one not complete yet (Google not connected)."""
    return config.sync_settings(config_file.read(config_path)).database


class ConsolePushes:
    """The extension's pushes: the library's durable queue, with the new password's hash kept until it is pushed."""

    def __init__(
        self,
        config_path: str,
        delay: float = DEFAULT_DELAY,
        push_user: Callable[[str, str, str], object] | None = None,
        push_password: Callable[[str, str, str, str], object] | None = None,
        connected: Callable[[str], bool] = is_connected,
        retry_base: float = push_queue.RETRY_BASE,
    ):
        self.config_path = config_path
        self.delay, self.retry_base = delay, retry_base
        # Tests give these to see each push; without them the pushes run through the engine, a batch at a time.
        self._push_user = push_user
        self._push_password = push_password
        self._connected = connected
        self._lock = threading.Lock()
        self._queue: push_queue.PushQueue | None = None

    @property
    def queue(self) -> push_queue.PushQueue:
        """Opened on first use: the configuration may name the state database only after the console's setup."""
        with self._lock:
            if self._queue is None:
                store = Store(_state_database(self.config_path))
                self._queue = push_queue.PushQueue(
                    store,
                    batch_handler=self._push_batch,
                    delay=self.delay,
                    retry_base=self.retry_base,
                    name="google-sync-console-push",
                )
            return self._queue

    def submit(self, uid: str, password_hash: str = "", uuid: str = "") -> None:
        self.queue.put("user", uid, uuid, trigger="console", password_hash=password_hash)

    def waiting_passwords(self) -> set[str]:
        """Users whose new password is still to be pushed (never the hashes)."""
        return {push.name for push in self.queue.store.queued_pushes() if push.password_hash}

    def queued(self) -> list:
        return self.queue.store.queued_pushes() if self._queue else []

    @property
    def busy(self) -> bool:
        return self._queue is not None and not self._queue.idle()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until nothing is queued for a first attempt or running (for tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self) -> None:
        if self._queue is not None:
            self._queue.stop()

    def _push_batch(self, pushes: list) -> dict:
        if not self._connected(self.config_path):
            for push in pushes:
                log.info("not pushing %s: Google is not connected", push.name or push.uuid)
            return {push.key: None for push in pushes}
        if self._push_user is None and self._push_password is None:
            for push in pushes:
                log.info(
                    "pushing user %s%s", push.name or push.uuid, " with a new password" if push.password_hash else ""
                )
            return _run_pushes(self.config_path, pushes)
        return push_queue.one_by_one(self._push)(pushes)

    def _push(self, push) -> None:
        if push.password_hash:
            log.info("pushing user %s with a new password", push.name)
            self._push_password(self.config_path, push.name, push.password_hash, passwords.CRYPT)
        else:
            log.info("pushing user %s", push.name or push.uuid)
            self._push_user(self.config_path, push.name, push.uuid)


class GoogleAppsExtension:
    """What the host's user manager shows (a switch) and calls (event handlers)."""

    name = "google_apps"
    label = "Google Apps"
    plugin_group = "google_apps_plugin"
    description = "Synchronize this account, its password and its groups to Google Apps. Turning it off suspends the Google account; it is never deleted."

    def __init__(self, queue: ConsolePushes):
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
        problem = passwords.length_problem(cleartext)
        if problem:  # Google refuses such a password in cleartext; sent as a hash it would slip past that rule
            log.warning(
                "new password of %s not pushed to Google: it is %s; set one of %d to %d characters",
                uid,
                problem,
                passwords.GOOGLE_MIN_PASSWORD,
                passwords.GOOGLE_MAX_PASSWORD,
            )
            self._queue(uid)
            return
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
