"""Sees every directory change, however it was made (console, ldapmodify, ldappasswd), and asks for a push.

It is a syncrepl consumer (RFC 4533, refreshAndPersist) on the common parent of
the users and groups subtrees. Its cookie is kept in the state database, so a
restart resumes where it stopped; when slapd goes away it reconnects with
backoff. A directory without the syncprov overlay is polled on
``modifyTimestamp`` instead (deletions are then left to the periodic full run).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import ldap
import ldap.dn
from ldap.ldapobject import SimpleLDAPObject
from ldap.syncrepl import SyncreplConsumer
from sqlalchemy.exc import SQLAlchemyError

from ..settings.config import Settings
from ..state.store import Store, database_problem
from .ldap_source import configure_and_bind

log = logging.getLogger(__name__)

COOKIE_KEY = "watcher_cookie"
ENABLED_MEMBERS_KEY = "watcher_enabled_members"
GROUP_MEMBERS_KEY = "watcher_members:"  # + a digest of a group's name: its members when last seen, for group sources
WATCHED_ATTRIBUTES = ["uid", "cn", "memberUid", "member", "uniqueMember", "entryUUID", "modifyTimestamp"]
NO_SYNCPROV = (ldap.UNAVAILABLE_CRITICAL_EXTENSION, ldap.PROTOCOL_ERROR, ldap.UNWILLING_TO_PERFORM)
CONNECTION_LOST = (
    ldap.SERVER_DOWN,
    ldap.CONNECT_ERROR,
    ldap.TIMELIMIT_EXCEEDED,
    ldap.UNAVAILABLE,
    ldap.BUSY,
    ldap.OTHER,
)

# A push request: ("user", uid, uuid) or ("group", name).
Request = tuple
Notify = Callable[[Request], None]


def common_base(first: str, second: str) -> str:
    """The deepest DN both subtrees share: ou=Accounts,… for a ClearOS directory."""
    a, b = ldap.dn.str2dn(first), ldap.dn.str2dn(second)
    shared: list[list[tuple[str, str, int]]] = []  # the RDNs, as ldap.dn.str2dn gives them
    for left, right in zip(reversed(a), reversed(b), strict=False):  # the subtrees may be of any depths
        if [(k.lower(), v.lower(), t) for k, v, t in left] != [(k.lower(), v.lower(), t) for k, v, t in right]:
            break
        shared.insert(0, left)
    return ldap.dn.dn2str(shared)


def _is_under(dn: str, base: str) -> bool:
    return dn.lower().endswith(base.lower())


def _texts(attributes: dict, name: str) -> list[str]:
    for key, values in attributes.items():
        if key.lower() == name.lower():
            return [value.decode("utf-8", "replace") for value in values]
    return []


class ChangeRouter:
    """Turns changed entries into push requests. Kept apart from LDAP so its rules are easy to test."""

    def __init__(self, settings: Settings, notify: Notify, store: Store):
        self.settings = settings
        self.notify = notify
        self.store = store
        sources = settings.sources
        # With group sources (or exclusions) any group's members may decide who is in scope, nested groups included.
        self.every_group_decides = bool(sources.member_groups or sources.exclusion_groups or sources.pilot_source)
        self.lag: float | None = (
            None  # seconds between the last change's modifyTimestamp and seeing it (for monitoring)
        )

    def entry_changed(self, dn: str, attributes: dict, uuid: str, push: bool = True) -> None:
        ldap_settings = self.settings.ldap
        if push:
            self.lag = _lag(attributes, self.lag)
        if _is_under(dn, ldap_settings.users_dn) and (uid := next(iter(_texts(attributes, "uid")), "")):
            if push:
                self.notify(("user", uid, uuid))
        elif _is_under(dn, ldap_settings.groups_dn) and (name := next(iter(_texts(attributes, "cn")), "")):
            switch = name.lower() == ldap_settings.enabled_group.lower()
            if switch or self.every_group_decides:
                self._scope_group_changed(name, attributes, push, switch)
            if push and not switch:
                self.notify(("group", name))

    def _scope_group_changed(self, name: str, attributes: dict, push: bool, switch: bool) -> None:
        """Members of a group that decides who is in scope (the Google Apps switch, a source or an exclusion)
        changed: push exactly the users who joined or left, so their suspension goes through the push's limits."""
        members = set(_texts(attributes, "memberUid"))
        member_dns = _texts(attributes, "member") + [
            value.split("#")[0] for value in _texts(attributes, "uniqueMember")
        ]
        members |= {_first_rdn_value(dn) for dn in member_dns} - {""}
        # A digest of the name: the state database's value names are short.
        key = (
            ENABLED_MEMBERS_KEY
            if switch
            else GROUP_MEMBERS_KEY + hashlib.sha256(name.lower().encode()).hexdigest()[:40]
        )
        known = self.store.get_value(key)
        previous = set(json.loads(known)) if known else None
        if previous is not None and push:
            for uid in sorted(previous ^ members):
                self.notify(("user", uid, ""))
        # Remembered only once every flipped user is queued: if queuing failed, the entry comes again and is compared
        # with the same members, so nobody who flipped is forgotten. (None before: the full run covers the past.)
        self.store.set_value(key, json.dumps(sorted(members)))

    def entries_deleted(self, uuids: list[str]) -> None:
        users = self.store.links().by_uuid("user")
        for uuid in uuids:
            if uuid in users:
                self.notify(("user", "", uuid))


def _lag(attributes: dict, previous: float | None) -> float | None:
    stamp = next(iter(_texts(attributes, "modifyTimestamp")), "")
    try:
        changed = datetime.strptime(stamp[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return previous
    return max(0.0, (datetime.now(UTC) - changed).total_seconds())


def _first_rdn_value(dn: str) -> str:
    """uid=alice,… → alice. ClearOS member DNs start with cn=, which is not a uid: those rely on memberUid."""
    try:
        attribute, value, _ = ldap.dn.str2dn(dn)[0][0]
    except (ldap.DECODING_ERROR, IndexError):
        return ""
    return value if attribute.lower() == "uid" else ""


COOKIE_SAVE_EVERY = 0.5  # seconds: a burst of changes saves the cookie this often, not once per entry
QUIET_POLL = 0.2  # seconds of quiet after which a cookie not saved yet is saved


class _Consumer(SyncreplConsumer, SimpleLDAPObject):
    def __init__(self, uri: str, router: ChangeRouter, store: Store, resumed: bool):
        super().__init__(uri)
        self.router, self.store = router, store
        self.refresh_done = False
        self.resumed = resumed  # with a cookie, the refresh phase carries real changes
        self.unsaved: str | None = None  # the newest cookie, once every change before it is queued
        self.saved_at = float("-inf")

    def syncrepl_get_cookie(self):
        return self.store.get_value(COOKIE_KEY)

    def syncrepl_set_cookie(self, cookie):
        # python-ldap hands the cookie over after the entry it came with was handled (queued): saving it later
        # than that only means resuming from an older one after a restart, which sends some changes again.
        self.unsaved = cookie.decode() if isinstance(cookie, bytes) else cookie
        self.save_cookie(at_once=not self.refresh_done)

    def save_cookie(self, at_once: bool = False) -> None:
        """Save the newest cookie: at once (refresh done, a quiet moment, a stop), else at most every COOKIE_SAVE_EVERY s."""
        if self.unsaved is None or not (at_once or time.monotonic() - self.saved_at >= COOKIE_SAVE_EVERY):
            return
        self.store.set_value(COOKIE_KEY, self.unsaved)
        self.unsaved, self.saved_at = None, time.monotonic()

    def syncrepl_entry(self, dn, attributes, uuid):
        # On a first start the refresh lists every entry: learn from it, push nothing (the full run did that).
        self.router.entry_changed(dn, attributes, uuid, push=self.refresh_done or self.resumed)

    def syncrepl_delete(self, uuids):
        self.router.entries_deleted(list(uuids))

    def syncrepl_present(self, uuids, refreshDeletes=False):
        pass  # unchanged entries: nothing to do

    def syncrepl_refreshdone(self):
        self.refresh_done = True
        log.info("directory watcher: initial refresh done, now watching for changes")


class DirectoryWatcher:
    """Run with ``run()`` (blocks until ``stop()``), or ``start()`` for a background thread."""

    def __init__(self, settings: Settings, store: Store, notify: Notify, poll_timeout: float = 1.0):
        self.settings = settings
        self.store = store
        self.router = ChangeRouter(settings, notify, store)
        self.poll_timeout = poll_timeout
        self.base = common_base(settings.ldap.users_dn, settings.ldap.groups_dn)
        self.search_filter = f"(|{settings.ldap.user_filter}{settings.ldap.group_filter})"
        self.mode = "syncrepl"
        self.connected = False  # bound and searching (for the heartbeat)
        self.contact: datetime | None = None  # when slapd last answered
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._since: datetime | None = (
            None  # polling: changes after this were not all queued yet (kept across reconnections)
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="google-sync-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                if self.mode == "syncrepl":
                    self._watch()
                else:
                    self._poll()
                delay = 1.0
            except NO_SYNCPROV as error:
                log.warning(
                    "directory watcher: %s does not offer syncrepl (%s); enable the syncprov overlay (deploy/syncprov.ldif). "
                    "Polling modifyTimestamp every %ss meanwhile.",
                    self.settings.ldap.uri,
                    _detail(error),
                    self.settings.sync.poll_interval,
                )
                self.mode = "poll"
            except CONNECTION_LOST as error:
                log.warning(
                    "directory watcher: lost %s (%s); reconnecting in %.0fs",
                    self.settings.ldap.uri,
                    _detail(error),
                    delay,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, 60.0)
            except ldap.LDAPError as error:
                log.error("directory watcher: %s; retrying in %.0fs", _detail(error), delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 60.0)
            except SQLAlchemyError as error:
                # The state database is briefly unusable (a SQLite file locked by another process, PostgreSQL
                # restarting). The change that could not be queued is not lost: the cookie is saved only after
                # an entry is handled, so the next search resumes before it and slapd sends it again.
                log.warning(
                    "directory watcher: cannot use the state database (%s); watching again in %.0fs from the last "
                    "change saved, so none is lost",
                    database_problem(error),
                    delay,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, 60.0)

    def _watch(self) -> None:
        cookie = self.store.get_value(COOKIE_KEY)
        consumer = _Consumer(self.settings.ldap.uri, self.router, self.store, resumed=cookie is not None)
        try:
            configure_and_bind(consumer, self.settings.ldap)
            msgid = consumer.syncrepl_search(
                self.base,
                ldap.SCOPE_SUBTREE,
                mode="refreshAndPersist",
                filterstr=self.search_filter,
                attrlist=WATCHED_ATTRIBUTES,
            )
            log.info(
                "directory watcher: syncrepl on %s under %s (%s)",
                self.settings.ldap.uri,
                self.base,
                "resumed" if cookie else "first start",
            )
            self.connected = True
            while not self._stop.is_set():
                try:
                    if not consumer.syncrepl_poll(
                        msgid=msgid, timeout=QUIET_POLL if consumer.unsaved else self.poll_timeout
                    ):
                        return  # the server ended the search; start again
                except ldap.TIMEOUT:
                    consumer.save_cookie(at_once=True)  # a quiet moment: the burst is over
                self.contact = datetime.now(UTC)  # a quiet poll too: a dropped connection raises SERVER_DOWN instead
            consumer.save_cookie(at_once=True)
        finally:
            self.connected = False
            with contextlib.suppress(ldap.LDAPError):
                consumer.unbind_s()

    def _poll(self) -> None:
        """Fallback without syncprov: entries whose modifyTimestamp moved since the last look."""
        since = self._since or datetime.now(UTC) - timedelta(seconds=1)
        connection = ldap.initialize(self.settings.ldap.uri)
        try:
            configure_and_bind(connection, self.settings.ldap)
            self.connected, self.contact = True, datetime.now(UTC)
            while not self._stop.wait(self.settings.sync.poll_interval):
                started = datetime.now(UTC)
                stamp = since.strftime("%Y%m%d%H%M%SZ")
                search = f"(&{self.search_filter}(modifyTimestamp>={stamp}))"
                for dn, attributes in connection.search_s(self.base, ldap.SCOPE_SUBTREE, search, WATCHED_ATTRIBUTES):
                    if dn:
                        self.router.entry_changed(dn, attributes, next(iter(_texts(attributes, "entryUUID")), ""))
                since = self._since = started - timedelta(seconds=1)
                self.contact = datetime.now(UTC)
        finally:
            self.connected = False
            with contextlib.suppress(ldap.LDAPError):
                connection.unbind_s()


def _detail(error: ldap.LDAPError) -> str:
    info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return info.get("info") or info.get("desc") or str(error)
