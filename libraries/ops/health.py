"""``google-sync health``: one Nagios-style verdict on whether synchronization is working.

Each check is a small function of (settings, store, now) returning a ``Finding`` (or
None when it has nothing to say); adding a check is adding one function to ``CHECKS``.
The verdict is the worst finding: 0 OK, 1 WARNING, 2 CRITICAL (3 UNKNOWN when a check
itself broke), with one line of text, as monitoring plugins print it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..core.codes import RunOutcome
from ..core.errors import GoogleSyncError
from ..settings.config import Settings
from ..state.store import Store
from .monitoring import PUSH_SLOW_AFTER, PUSH_STUCK_AFTER, aware, last_full_run, read_heartbeat, waiting_since

log = logging.getLogger(__name__)

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATUS_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
HEARTBEAT_STALE = timedelta(seconds=60)  # four missed heartbeats: the watcher (or its process) is gone


@dataclass(frozen=True)
class Finding:
    name: str
    status: int
    text: str

    @property
    def data(self) -> dict:
        return {"check": self.name, "status": STATUS_NAMES[self.status], "code": self.status, "text": self.text}


Check = Callable[[Settings, Store, datetime], "Finding | None"]


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


# -- the checks ---------------------------------------------------------------------------------


def last_run(settings: Settings, store: Store, moment: datetime) -> Finding:
    run = last_full_run(store)
    if run is None:
        return Finding("last_run", WARNING, "no synchronization has run yet: run google-sync sync")
    text = f"last synchronization #{run.id} {run.outcome}"
    if run.outcome in (RunOutcome.FAILED, RunOutcome.REFUSED):
        return Finding(
            "last_run", CRITICAL, f"{text}: {run.message} (google-sync status --run {run.id})".replace(": ()", "")
        )
    if run.outcome in (RunOutcome.PARTIAL, RunOutcome.INTERRUPTED):
        return Finding("last_run", WARNING, f"{text} (google-sync status --run {run.id})")
    return Finding("last_run", OK, f"{text} {_ago(moment - aware(run.finished_at or run.started_at))} ago")


def success_age(settings: Settings, store: Store, moment: datetime) -> Finding | None:
    """Only when automatic synchronization is on: then a full run should succeed every interval."""
    if not settings.sync.automatic:
        return None
    limit = timedelta(minutes=2 * settings.sync.interval)
    run = last_full_run(store, successful=True)
    if run is None:
        return Finding(
            "success_age", CRITICAL, "no synchronization has succeeded yet although automatic synchronization is on"
        )
    age = moment - aware(run.finished_at or run.started_at)
    if age > limit:
        return Finding(
            "success_age",
            CRITICAL,
            f"the last successful synchronization (#{run.id}) is {_ago(age)} old, "
            f"more than twice the interval ({settings.sync.interval} min): is google-sync-worker running?",
        )
    return None


def push_queue(settings: Settings, store: Store, moment: datetime) -> Finding:
    pushes = store.queued_pushes()
    if not pushes:
        return Finding("push_queue", OK, "no push waiting")
    oldest = min(pushes, key=lambda push: aware(push.first_seen_at))
    age = waiting_since(oldest, moment)
    why = f": {oldest.last_error}" if oldest.last_error else ""
    text = f"{len(pushes)} push(es) queued, the oldest ({oldest.label}) for {_ago(age)}{why}"
    if age > PUSH_STUCK_AFTER:
        return Finding("push_queue", CRITICAL, text)
    if age > PUSH_SLOW_AFTER:
        return Finding("push_queue", WARNING, text)
    return Finding("push_queue", OK, f"{len(pushes)} push(es) queued")


def held(settings: Settings, store: Store, moment: datetime) -> Finding:
    waiting = store.held()
    if not waiting:
        return Finding("held", OK, "no change held")
    oldest = min(waiting, key=lambda change: aware(change.held_at))
    return Finding(
        "held",
        WARNING,
        f"{len(waiting)} change(s) held for approval, the oldest ({oldest.action} {oldest.object}) for "
        f"{_ago(moment - aware(oldest.held_at))}: review with google-sync test, apply with google-sync sync --force",
    )


def watcher(settings: Settings, store: Store, moment: datetime) -> Finding:
    beat = read_heartbeat(store)
    if beat is None:
        return Finding("watcher", CRITICAL, "the directory watcher has never run: start google-sync-worker")
    if beat.stopped:
        return Finding(
            "watcher",
            CRITICAL,
            f"the directory watcher stopped {_ago(moment - beat.written)} ago ({beat.host}): start google-sync-worker",
        )
    if moment - beat.written > HEARTBEAT_STALE:
        return Finding(
            "watcher",
            CRITICAL,
            f"the directory watcher on {beat.host} (pid {beat.pid}) has not been heard of for "
            f"{_ago(moment - beat.written)}: is google-sync-worker running?",
        )
    # Polling answers only every poll_interval; syncrepl answers every second.
    silent_for = moment - beat.contact if beat.contact else None
    allowed = HEARTBEAT_STALE + timedelta(seconds=2 * settings.sync.poll_interval if beat.mode == "poll" else 0)
    if not beat.connected or silent_for is None or silent_for > allowed:
        since = f" for {_ago(silent_for)}" if silent_for else ""
        return Finding(
            "watcher",
            CRITICAL,
            f"the directory watcher cannot reach {settings.ldap.uri}{since}: check slapd and [ldap]",
        )
    if beat.mode == "poll":
        return Finding(
            "watcher", WARNING, "the directory watcher polls modifyTimestamp: load deploy/syncprov.ldif for syncrepl"
        )
    return Finding("watcher", OK, "the directory watcher follows the directory")


def credentials(settings: Settings, store: Store, moment: datetime) -> Finding:
    """A token request, the one call that shows whether the key (or grant) still works."""
    from ..google.google_target import load_credentials, required_scopes, token_error_message, try_token  # noqa: PLC0415  (slow import)

    if not settings.google.credentials_file:
        return Finding(
            "credentials",
            CRITICAL,
            "Google is not connected ([google] credentials_file is empty): connect on the console's Settings page",
        )
    try:
        refusal = try_token(load_credentials(settings.google, required_scopes(settings)))
    except GoogleSyncError as error:
        return Finding("credentials", CRITICAL, str(error))
    if refusal:
        return Finding(
            "credentials",
            CRITICAL,
            token_error_message(RuntimeError(refusal), settings.google, scopes=required_scopes(settings)),
        )
    return Finding("credentials", OK, "Google grants a token")


CHECKS: tuple[Check, ...] = (last_run, success_age, push_queue, held, watcher, credentials)


# -- the verdict ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    findings: tuple[Finding, ...]

    @property
    def status(self) -> int:
        codes = {finding.status for finding in self.findings}
        return CRITICAL if CRITICAL in codes else max(codes, default=OK)  # a broken check must not hide a critical one

    @property
    def line(self) -> str:
        """``GOOGLE-SYNC CRITICAL - <the worst findings>``; when all is well, what is well."""
        worst = [finding.text for finding in self.findings if finding.status == self.status]
        return f"GOOGLE-SYNC {STATUS_NAMES[self.status]} - {'; '.join(worst)}"

    @property
    def data(self) -> dict:
        return {
            "status": STATUS_NAMES[self.status],
            "code": self.status,
            "text": self.line,
            "checks": [finding.data for finding in self.findings],
        }


def evaluate(settings: Settings, store: Store, moment: datetime, checks: tuple[Check, ...] = CHECKS) -> Health:
    findings = []
    for check in checks:
        try:
            finding = check(settings, store, moment)
        except Exception as error:  # noqa: BLE001  (one broken check must not hide the others' verdicts)
            log.exception("health check %s failed", check.__name__)
            finding = Finding(
                check.__name__, UNKNOWN, f"{check.__name__} could not be checked ({type(error).__name__})"
            )
        if finding is not None:
            findings.append(finding)
    return Health(tuple(findings))
