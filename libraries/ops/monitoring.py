"""What notifications, the health check and the metrics agree on: which runs count as what, and the watcher's heartbeat.

Kept in one place so that "a failed run" or "a push stuck for an hour" means the
same thing in an e-mail, in ``google-sync health`` and on a Prometheus graph.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import overload

from ..core.codes import SUCCEEDED_OUTCOMES, RunOutcome
from ..state.store import QueuedPush, RunRecord, Store

# Runs started by a targeted push (the watcher, the user manager, a captured password). Their transient
# failures are retried by the push queue, so they count as failures only once the push has waited too long.
PUSH_TRIGGERS = frozenset({"watch", "push", "password", "user-manager"})
PUSH_STUCK_AFTER = timedelta(hours=1)  # a push failing this long is worth a message
PUSH_SLOW_AFTER = timedelta(minutes=10)  # a push queued this long is worth a health warning

WATCHER_HEARTBEAT = "watcher.heartbeat"
HEARTBEAT_SECONDS = 15.0  # how often a running watcher says so


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    return (
        moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
    )  # SQLite drops the zone


def kind_of(trigger: str, dry_run: bool) -> str:
    """``test`` (a dry run), ``push`` (one object after a change) or ``full`` (the whole directory, or a console action)."""
    if dry_run:
        return "test"
    return "push" if trigger in PUSH_TRIGGERS else "full"


def run_kind(run: RunRecord) -> str:
    return kind_of(run.trigger, run.dry_run)


def last_full_run(store: Store, successful: bool = False, limit: int = 500) -> RunRecord | None:
    """The newest finished full run (the newest successful one with ``successful``) among the last ``limit`` runs."""
    for run in store.runs(limit=limit):
        if run_kind(run) != "full" or run.outcome == RunOutcome.RUNNING:
            continue
        if not successful or run.outcome in SUCCEEDED_OUTCOMES:
            return run
    return None


def waiting_since(push: QueuedPush, moment: datetime) -> timedelta:
    return moment - aware(push.first_seen_at)


@dataclass(frozen=True)
class Heartbeat:
    """What a running watcher last said about itself (JSON in the state database's values table)."""

    at: str  # ISO time it was written
    host: str
    pid: int
    mode: str  # syncrepl or poll
    connected: bool
    contact_at: str | None  # ISO time slapd last answered
    lag: float | None  # seconds between the last change's modifyTimestamp and the watcher seeing it
    stopped: bool = False

    @property
    def written(self) -> datetime:
        return datetime.fromisoformat(self.at)

    @property
    def contact(self) -> datetime | None:
        return datetime.fromisoformat(self.contact_at) if self.contact_at else None


def write_heartbeat(
    store: Store,
    moment: datetime,
    mode: str,
    connected: bool,
    contact: datetime | None,
    lag: float | None,
    stopped: bool = False,
) -> None:
    beat = Heartbeat(
        moment.isoformat(),
        socket.gethostname(),
        os.getpid(),
        mode,
        connected,
        contact.isoformat() if contact else None,
        lag,
        stopped,
    )
    store.set_value(WATCHER_HEARTBEAT, json.dumps(asdict(beat)))


def read_heartbeat(store: Store) -> Heartbeat | None:
    text = store.get_value(WATCHER_HEARTBEAT)
    try:
        return Heartbeat(**json.loads(text)) if text else None
    except (TypeError, ValueError):  # written by another version: as good as none
        return None
