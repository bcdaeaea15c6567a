"""Local state through SQLAlchemy (a SQLite file by default; any SQLAlchemy URL works).

It remembers which LDAP entry (entryUUID) is which Google object, which accounts
we suspended, every run with its per-object results, the journal of changes in
flight and the queue of pushes waiting. It never holds a password, a key or a
token: only keyed fingerprints, and a new password's crypt hash while its push
waits in the queue.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import IntegrityError

from ..core.codes import RunOutcome
from ..core.model import Link, LinkState, Offboarded
from . import migrate, state_files
from .processes import process_alive, this_process

metadata = MetaData()  # the newest schema; migrations/ takes older databases there

links_table = Table(
    "links",
    metadata,
    Column("kind", String(10), primary_key=True),
    Column("uuid", String(64), primary_key=True),
    Column("google_id", String(64), nullable=False, index=True),
    Column("email", String(320), nullable=False),
    Column("suspended_by_us", Boolean, nullable=False, default=False),
    Column("created_by_us", Boolean, nullable=False, default=False),
    Column("password_fingerprint", String(64), nullable=False, default=""),
    Column("posting_policy", String(20), nullable=False, default=""),
    Column("photo_fingerprint", String(64), nullable=False, default=""),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

runs_table = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("trigger", String(20), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(20), nullable=False, default=RunOutcome.RUNNING),
    Column("plan_checksum", String(32), nullable=False, default=""),
    Column("counts", Text, nullable=False, default="{}"),
    Column("message", Text, nullable=False, default=""),
    Column("last_seen_at", DateTime(timezone=True)),  # moved on with every batch: when a dead run was last alive
    Column("pid", Integer, nullable=False, default=0),
    Column("host", String(255), nullable=False, default=""),
)

results_table = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("action", String(30), nullable=False),
    Column("object", String(700), nullable=False, index=True),  # the console's last result per object reads this index
    Column("ok", Boolean, nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column(
        "data", Text, nullable=False, default="{}"
    ),  # the change as planned (JSON, no secret), with what it overwrote
    Column(
        "recorded_at", DateTime(timezone=True), index=True
    ),  # when the answer was recorded: the suspension budget counts these
)

values_table = Table(
    "values",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", Text, nullable=False),
)

# Changes sent to Google whose answer has not been recorded yet. A row outlives its batch only when
# the process died in between: the next run reads Google to learn whether the change took effect.
journal_table = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("action", String(30), nullable=False),
    Column("object", String(700), nullable=False),
    Column("proof", Text, nullable=False),  # JSON: what Google shows once the change took effect
    Column("link", Text, nullable=False),  # JSON: the link to record then ("" when the change touches none)
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

# Targeted pushes waiting to be applied: kept until applied, retried with backoff, shared by processes.
push_queue_table = Table(
    "push_queue",
    metadata,
    Column("key", String(400), primary_key=True),  # one row per object: later requests coalesce into it
    Column("kind", String(10), nullable=False),  # user or group
    Column("name", String(320), nullable=False),  # uid or group name ("" for a deleted user known by uuid)
    Column("uuid", String(64), nullable=False, default=""),
    Column(
        "password_hash", Text, nullable=False, default=""
    ),  # a new password's crypt hash until pushed (never cleartext)
    Column("trigger", String(20), nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column(
        "version", Integer, nullable=False, default=0
    ),  # moves on with every request: a push applied meanwhile keeps the row
    Column("claimed_by", String(300), nullable=False, default=""),
    Column("claimed_until", DateTime(timezone=True)),
)


held_table = Table(
    "held",
    metadata,
    Column("key", String(800), primary_key=True),  # scope and change: one row per held change
    Column("scope", String(64), nullable=False, index=True),  # the entry (entryUUID) whose push held it
    Column("action", String(30), nullable=False),
    Column("object", String(700), nullable=False),
    Column("reason", Text, nullable=False),
    Column("held_at", DateTime(timezone=True), nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("data", Text, nullable=False),  # the change as planned (JSON, no secret)
)


# What [offboarding] did to each leaver (one row per account, its last departure) and its scheduled data transfer.
leavers_table = Table(
    "leavers",
    metadata,
    Column("google_id", String(64), primary_key=True),
    Column("uuid", String(64), nullable=False),
    Column("email", String(320), nullable=False),
    Column("left_at", DateTime(timezone=True), nullable=False),
    Column("steps", Text, nullable=False),  # JSON: [[ISO time, what was done], ...]
    Column("hidden", Boolean, nullable=False),  # this tool hid it from the directory: shown again on return
    Column("moved_from", String(400), nullable=False),  # the org unit it was in before this tool moved it
    Column("moved_to", String(400), nullable=False),
    Column("transfer_to", String(320), nullable=False),
    Column("transfer_to_id", String(64), nullable=False),
    Column("transfer_applications", String(100), nullable=False),  # drive,calendar
    Column("transfer_privacy", String(100), nullable=False),  # shared,private
    Column("transfer_due_at", DateTime(timezone=True), index=True),
    Column(
        "transfer_status", String(20), nullable=False
    ),  # "", scheduled, new, inProgress, completed, failed, cancelled
    Column("transfer_id", String(200), nullable=False),
    Column("transfer_attempts", Integer, nullable=False),
    Column("transfer_error", Text, nullable=False),
    Column("transfer_done_at", DateTime(timezone=True)),
    Column("returned_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

LEAVER_DEFAULTS = dict(
    steps="[]",
    hidden=False,
    moved_from="",
    moved_to="",
    transfer_to="",
    transfer_to_id="",
    transfer_applications="",
    transfer_privacy="",
    transfer_due_at=None,
    transfer_status="",
    transfer_id="",
    transfer_attempts=0,
    transfer_error="",
    transfer_done_at=None,
    returned_at=None,
)
TRANSFER_STARTED = ("new", "inProgress")  # Google's overallTransferStatusCode while a transfer runs

# INSERT … ON CONFLICT DO UPDATE (SQLite has it since 3.24; an older library takes the portable way)
UPSERTS: dict[str, Any] = {
    "postgresql": postgresql.insert,
    **({"sqlite": sqlite.insert} if sqlite3.sqlite_version_info >= (3, 24) else {}),
}

MAX_RUN_ID = 2**63 - 1  # a run id is a database INTEGER: a larger one names no run (and would overflow the query)


def now() -> datetime:
    return datetime.now(UTC)


def database_problem(error: Exception) -> str:
    """One line of what the database said (a SQLAlchemy error), without the statement and parameters it wraps."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@dataclass(frozen=True)
class RunRecord:
    id: int
    trigger: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    plan_checksum: str
    counts: dict
    message: str
    last_seen_at: datetime | None = None
    pid: int = 0
    host: str = ""

    @property
    def duration(self) -> float | None:
        end = self.finished_at or (self.last_seen_at if self.outcome == RunOutcome.INTERRUPTED else None)
        if end is None:
            return None
        return (_aware(end) - _aware(self.started_at)).total_seconds()

    @property
    def data(self) -> dict:
        return {
            "id": self.id,
            "trigger": self.trigger,
            "dry_run": self.dry_run,
            "started_at": _aware(self.started_at).isoformat(),
            "finished_at": _aware(self.finished_at).isoformat() if self.finished_at else None,
            "last_seen_at": _aware(self.last_seen_at).isoformat() if self.last_seen_at else None,
            "duration": self.duration,
            "outcome": self.outcome,
            "counts": self.counts,
            "message": self.message,
        }


@dataclass(frozen=True)
class Intent:
    """A change sent to Google whose answer was never recorded (the run died in between)."""

    id: int
    run_id: int
    action: str
    object: str
    proof: dict
    link: Link | None


@dataclass(frozen=True)
class QueuedPush:
    key: str
    kind: str
    name: str
    uuid: str
    password_hash: str
    trigger: str
    first_seen_at: datetime
    due_at: datetime
    attempts: int
    last_error: str
    version: int
    claimed_by: str = ""  # the queue that holds it while it runs ("" when it waits)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name or self.uuid}"

    @property
    def data(self) -> dict:  # never the password hash: only whether one waits
        return {
            "object": self.label,
            "kind": self.kind,
            "name": self.name,
            "uuid": self.uuid,
            "new_password": bool(self.password_hash),
            "first_seen_at": _aware(self.first_seen_at).isoformat(),
            "next_attempt_at": _aware(self.due_at).isoformat(),
            "attempts": self.attempts,
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class HeldChange:
    """A change the safety limits kept back; the administrator releases it (sync --force, or the console)."""

    scope: str
    action: str
    object: str
    reason: str
    held_at: datetime
    run_id: int
    push_kind: str = "user"  # what to push again to release it
    push_name: str = ""

    @property
    def data(self) -> dict:
        return {
            "action": self.action,
            "object": self.object,
            "reason": self.reason,
            "held_at": _aware(self.held_at).isoformat(),
            "run_id": self.run_id,
        }


def held_checksum(held: list[HeldChange]) -> str:
    """What a page listing ``held`` confirms: the changes (action, object, entry), not when or why they were held."""
    payload = json.dumps(sorted([change.scope, change.action, change.object] for change in held), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite drops the zone


LINK_FIELDS = (
    "kind",
    "uuid",
    "google_id",
    "email",
    "suspended_by_us",
    "created_by_us",
    "password_fingerprint",
    "posting_policy",
    "photo_fingerprint",
)


def link_to_json(link: Link | None) -> str:
    return json.dumps({name: getattr(link, name) for name in LINK_FIELDS}) if link else ""


def link_from_json(text: str) -> Link | None:
    return Link(**json.loads(text)) if text else None


class Store:
    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            state_files.prepare_sqlite(url.removeprefix("sqlite:///"))  # 0600 before SQLite makes its WAL after it
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        migrate.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- links -------------------------------------------------------------------

    def links(self) -> LinkState:
        with self.engine.connect() as connection:
            rows = connection.execute(select(links_table)).mappings().all()
        return LinkState(tuple(Link(**{name: row[name] for name in LINK_FIELDS}) for row in rows))

    def save_links(self, links: list[Link]) -> None:
        """Insert or replace links, all in one transaction."""
        with self.engine.begin() as connection:
            _save_links(connection, links)

    def delete_link(self, link: Link) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                delete(links_table).where(links_table.c.kind == link.kind, links_table.c.uuid == link.uuid)
            )

    # -- runs --------------------------------------------------------------------

    def start_run(self, trigger: str, dry_run: bool) -> int:
        pid, host = this_process()
        values = dict(trigger=trigger, dry_run=dry_run, started_at=now(), last_seen_at=now(), pid=pid, host=host)
        with self.engine.begin() as connection:
            return _new_id(connection.execute(insert(runs_table).values(**values)))

    def finish_run(
        self, run_id: int, outcome: str, checksum: str = "", counts: dict | None = None, message: str = ""
    ) -> None:
        values = dict(
            finished_at=now(),
            last_seen_at=now(),
            outcome=outcome,
            plan_checksum=checksum,
            counts=json.dumps(counts or {}),
            message=message,
        )
        with self.engine.begin() as connection:
            connection.execute(update(runs_table).where(runs_table.c.id == run_id).values(**values))

    def mark_interrupted(self, lock_held: bool) -> list[int]:
        """Runs left 'running' by a process that died: marked interrupted, as of when they were last seen.

        Whoever holds the run lock knows every other applying run is dead; a dry run
        (which takes no lock) is judged by whether its process still exists.
        """
        query = select(runs_table.c.id, runs_table.c.dry_run, runs_table.c.pid, runs_table.c.host).where(
            runs_table.c.outcome == RunOutcome.RUNNING
        )
        mine = os.getpid()
        with self.engine.begin() as connection:
            dead = [
                row.id
                for row in connection.execute(query)
                if not (row.pid == mine and row.host == socket.gethostname())
                and ((lock_held and not row.dry_run) or not process_alive(row.pid, row.host))
            ]
            for run_id in dead:
                message = "interrupted: the process running it stopped before it finished (see the results recorded up to then)"
                connection.execute(
                    update(runs_table)
                    .where(runs_table.c.id == run_id)
                    .values(outcome=RunOutcome.INTERRUPTED, message=message)
                )
        return dead

    def record_batch(
        self,
        run_id: int,
        results: list[dict],
        links: list[Link],
        done_intents: list[int],
        facts: Sequence[dict[str, Any]] = (),
    ) -> None:
        """What one batch did, in one transaction: its results, the links they change, what [offboarding] did to
        leavers (``facts``: a scheduled transfer is recorded with the suspension's results, or not at all), its journal
        rows cleared."""
        with self.engine.begin() as connection:
            _insert_results(connection, run_id, results)
            _save_links(connection, links)
            for fact in facts:
                _record_offboarding(connection, fact)
            if done_intents:
                connection.execute(delete(journal_table).where(journal_table.c.id.in_(done_intents)))
            connection.execute(update(runs_table).where(runs_table.c.id == run_id).values(last_seen_at=now()))

    def runs(self, limit: int = 20) -> list[RunRecord]:
        return self._runs(select(runs_table).order_by(runs_table.c.id.desc()).limit(limit))

    def run(self, run_id: int) -> RunRecord | None:
        if (
            not 0 < run_id <= MAX_RUN_ID
        ):  # no run has such an id, and past a database integer the query itself would fail
            return None
        return next(iter(self._runs(select(runs_table).where(runs_table.c.id == run_id))), None)

    def _runs(self, query) -> list[RunRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [RunRecord(**{**row, "counts": json.loads(row["counts"] or "{}")}) for row in rows]

    def results(self, run_id: int) -> list[dict]:
        query = select(results_table).where(results_table.c.run_id == run_id).order_by(results_table.c.id)
        with self.engine.connect() as connection:
            return [
                {**row, "data": json.loads(row["data"] or "{}")} for row in connection.execute(query).mappings().all()
            ]

    def count_applied(self, action: str, since: datetime) -> int:
        """How many changes of this action were applied since then, by every run and push (the suspension budget)."""
        query = (
            select(func.count())
            .select_from(results_table)
            .where(results_table.c.action == action, results_table.c.ok.is_(True), results_table.c.recorded_at >= since)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar() or 0

    def member_removals_by_group(self, action: str, since: datetime) -> dict[str, int]:
        """Members removed since then, by every run and push, per group address (max_member_removals over the window).

        A member change's object reads "group ← member" (MemberChange.subject)."""
        query = select(results_table.c.object).where(
            results_table.c.action == action, results_table.c.ok.is_(True), results_table.c.recorded_at >= since
        )
        counts: dict[str, int] = {}
        with self.engine.connect() as connection:
            for (subject,) in connection.execute(query):
                group = subject.partition(" ← ")[0].lower()
                counts[group] = counts.get(group, 0) + 1
        return counts

    # -- held changes ------------------------------------------------------------------

    def hold(self, run_id: int, held: list[dict], scopes: set[str] | None) -> None:
        """What a run held, replacing what was held before for the entries it planned (``scopes``; None: every entry).

        A held change that a later plan no longer makes (the user was switched back on) disappears this way.
        """
        moment = now()
        with self.engine.begin() as connection:
            previous = {
                row.key: row.held_at for row in connection.execute(select(held_table.c.key, held_table.c.held_at))
            }
            stale = (
                delete(held_table)
                if scopes is None
                else delete(held_table).where(held_table.c.scope.in_(sorted(scopes)))
            )
            connection.execute(stale)
            for change in held:
                key = f"{change['scope']}|{change['action']}|{change['object']}"
                connection.execute(
                    insert(held_table).values(
                        key=key,
                        scope=change["scope"],
                        action=change["action"],
                        object=change["object"],
                        reason=change["reason"],
                        held_at=previous.get(key, moment),
                        run_id=run_id,
                        data=json.dumps(change, ensure_ascii=False, default=str),
                    )
                )

    def forget_held(self, changes: list[tuple[str, str]]) -> None:
        """Drop held changes (action, object) that no plan calls for any more."""
        with self.engine.begin() as connection:
            for action, subject in changes:
                connection.execute(
                    delete(held_table).where(held_table.c.action == action, held_table.c.object == subject)
                )

    def held(self) -> list[HeldChange]:
        with self.engine.connect() as connection:
            rows = (
                connection.execute(select(held_table).order_by(held_table.c.held_at, held_table.c.object))
                .mappings()
                .all()
            )
        found = []
        for row in rows:
            data = json.loads(row["data"])
            found.append(
                HeldChange(
                    row["scope"],
                    row["action"],
                    row["object"],
                    row["reason"],
                    row["held_at"],
                    row["run_id"],
                    data.get("push_kind") or "user",
                    data.get("push_name", ""),
                )
            )
        return found

    # -- the apply journal ---------------------------------------------------------

    def journal_sent(self, run_id: int, intents: list[dict]) -> list[int]:
        """Record, before a batch goes out, what it will do; returns the rows' ids in order."""
        moment = now()
        ids = []
        with self.engine.begin() as connection:
            for intent in intents:
                values = dict(
                    run_id=run_id,
                    action=intent["action"],
                    object=intent["object"],
                    sent_at=moment,
                    proof=json.dumps(intent["proof"]),
                    link=link_to_json(intent["link"]),
                )
                ids.append(_new_id(connection.execute(insert(journal_table).values(**values))))
            connection.execute(update(runs_table).where(runs_table.c.id == run_id).values(last_seen_at=moment))
        return ids

    def unanswered(self) -> list[Intent]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(journal_table).order_by(journal_table.c.id)).mappings().all()
        return [
            Intent(
                row["id"],
                row["run_id"],
                row["action"],
                row["object"],
                json.loads(row["proof"]),
                link_from_json(row["link"]),
            )
            for row in rows
        ]

    # -- the push queue ----------------------------------------------------------------

    def enqueue_push(
        self,
        key: str,
        kind: str,
        name: str,
        uuid: str,
        trigger: str,
        due_at: datetime,
        password_hash: str = "",
        delay: float = 0.0,
    ) -> None:
        """Ask for a push of one object, due at ``due_at``; a request for an object already queued joins its row.

        One statement decides, on the row as it is when the statement runs, never on an earlier read of it (an
        upsert; elsewhere than PostgreSQL and SQLite, an INSERT, then an UPDATE when the row was there). A read
        before the write would leave a window: the push running meanwhile could remove the row between the read
        and the write, and the request would be lost. Joining moves the version on (so a push running meanwhile
        keeps the row and runs again), keeps a waiting password unless a new one comes, and sets the due time:
        - the object's push is running: ``delay`` seconds from now (the rest of a burst goes in one more push);
        - it waits after a failure: ``due_at`` if sooner (a new edit is a new reason to try);
        - it waits for its first attempt: ``due_at`` if later (the entry is still changing), unless it was first
          asked for ``delay`` seconds ago or more (a stream of edits never holds it back longer than that).
        """
        moment = now()
        table = push_queue_table
        values = dict(
            version=table.c.version + 1,
            trigger=trigger,
            due_at=case(
                (table.c.claimed_by != "", moment + timedelta(seconds=delay)),
                (table.c.attempts > 0, _earliest(table.c.due_at, due_at)),
                (table.c.first_seen_at <= moment - timedelta(seconds=delay), table.c.due_at),
                else_=_latest(table.c.due_at, due_at),
            ),
        )
        if password_hash:
            values["password_hash"] = password_hash
        if uuid:
            values["uuid"] = uuid
        row = dict(
            key=key,
            kind=kind,
            name=name,
            uuid=uuid,
            trigger=trigger,
            password_hash=password_hash,
            first_seen_at=moment,
            due_at=due_at,
            attempts=0,
            last_error="",
            version=0,
            claimed_by="",
        )
        upsert = UPSERTS.get(self.engine.dialect.name)
        if (
            upsert is not None
        ):  # one statement: insert, or update the row there (PostgreSQL and SQLite guarantee one of them)
            with self.engine.begin() as connection:
                connection.execute(
                    upsert(table).values(**row).on_conflict_do_update(index_elements=[table.c.key], set_=values)
                )
            return
        while True:  # another database: insert; if the row is there, update it; if it went meanwhile, insert again
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(table).values(**row))
                    return
            except IntegrityError:
                pass
            with self.engine.begin() as connection:
                if connection.execute(update(table).where(table.c.key == key).values(**values)).rowcount == 1:
                    return

    def claim_push(self, owner: str, lease: timedelta) -> QueuedPush | None:
        """The push due first, claimed by ``owner`` for ``lease`` so no other process runs it meanwhile."""
        return next(iter(self.claim_pushes(owner, lease, 1)), None)

    def claim_pushes(self, owner: str, lease: timedelta, limit: int, only_fresh: bool = False) -> list[QueuedPush]:
        """Up to ``limit`` due pushes, claimed by ``owner`` for ``lease``: those waiting for their first attempt first
        (a new edit overtakes old retries), then by due time. ``only_fresh``: none that failed before.

        Each row is claimed by a compare-and-set on its version, then read again under the claim, so what is
        returned is what the claim holds (a request joining between the look and the claim makes the claim fail)."""
        moment = now()
        table = push_queue_table
        free = or_(table.c.claimed_by == "", table.c.claimed_until < moment)
        query = select(table.c.key, table.c.version).where(table.c.due_at <= moment, free)
        if only_fresh:
            query = query.where(table.c.attempts == 0)
        query = query.order_by(case((table.c.attempts == 0, 0), else_=1), table.c.due_at).limit(limit)
        with self.engine.begin() as connection:
            claimed = [
                row.key
                for row in connection.execute(query).all()
                if connection.execute(
                    update(table)
                    .where(table.c.key == row.key, table.c.version == row.version, free)
                    .values(claimed_by=owner, claimed_until=moment + lease)
                ).rowcount
                == 1
            ]
            if not claimed:
                return []
            rows = (
                connection.execute(select(table).where(table.c.key.in_(claimed), table.c.claimed_by == owner))
                .mappings()
                .all()
            )
        order = {key: index for index, key in enumerate(claimed)}
        return sorted((_queued(row) for row in rows), key=lambda push: order[push.key])

    def push_done(self, push: QueuedPush) -> None:
        """Applied: gone from the queue, unless it was asked for again meanwhile (then it runs again).

        Only the claim that ran it acts: a claim that lapsed and was taken over leaves the row to its new holder.
        A pushed password's hash is then gone from the disk too (SQLite: overwritten, write-ahead log emptied)."""
        table = push_queue_table
        with self.engine.begin() as connection:
            mine = (table.c.key == push.key, table.c.claimed_by == push.claimed_by)
            gone = connection.execute(delete(table).where(*mine, table.c.version == push.version))
            if gone.rowcount == 0:
                # The password just pushed is done; a newer one that arrived meanwhile still waits.
                pushed = table.c.password_hash == push.password_hash
                connection.execute(
                    update(table)
                    .where(*mine)
                    .values(
                        claimed_by="", claimed_until=None, password_hash=case((pushed, ""), else_=table.c.password_hash)
                    )
                )
        if push.password_hash:
            self._empty_write_ahead_log()

    def push_failed(self, push: QueuedPush, error: str, retry_at: datetime, counts: bool = True) -> None:
        """Not applied: tried again at ``retry_at``. ``counts`` is False for a push that only waited (a run held the lock)."""
        table = push_queue_table
        values: dict[str, Any] = dict(
            claimed_by="",
            claimed_until=None,
            last_error=error,
            # A newer request keeps its own (earlier) due time; otherwise wait for the retry.
            due_at=case((table.c.version == push.version, retry_at), else_=table.c.due_at),
        )
        if counts:
            values["attempts"] = table.c.attempts + 1
        with self.engine.begin() as connection:
            connection.execute(
                update(table).where(table.c.key == push.key, table.c.claimed_by == push.claimed_by).values(**values)
            )

    def retry_failed_now(self) -> int:
        """Every push waiting after a failure becomes due now (Google answers again); returns how many."""
        moment = now()
        table = push_queue_table
        with self.engine.begin() as connection:
            moved = connection.execute(
                update(table)
                .where(table.c.attempts > 0, table.c.claimed_by == "", table.c.due_at > moment)
                .values(due_at=moment)
            )
        return moved.rowcount

    def release_pushes(self, owner: str) -> None:
        """Claims of a queue that stopped: free for the next one at once."""
        with self.engine.begin() as connection:
            connection.execute(
                update(push_queue_table)
                .where(push_queue_table.c.claimed_by == owner)
                .values(claimed_by="", claimed_until=None)
            )

    def release_stale_claims(self) -> None:
        """Claims of processes of this host that died (SIGKILL, power loss): their pushes run again at once."""
        with self.engine.begin() as connection:
            for owner in connection.execute(
                select(push_queue_table.c.claimed_by).where(push_queue_table.c.claimed_by != "").distinct()
            ).scalars():
                host, _, pid = owner.partition(":")
                if not process_alive(int(pid.partition(":")[0] or 0), host):
                    connection.execute(
                        update(push_queue_table)
                        .where(push_queue_table.c.claimed_by == owner)
                        .values(claimed_by="", claimed_until=None)
                    )

    def queued_pushes(self) -> list[QueuedPush]:
        with self.engine.connect() as connection:
            rows = (
                connection.execute(select(push_queue_table).order_by(push_queue_table.c.first_seen_at)).mappings().all()
            )
        return [_queued(row) for row in rows]

    def bring_pushes_forward(self, later_than: datetime, due_at: datetime) -> int:
        """Pushes due after ``later_than`` made due at ``due_at`` (the clock went back); returns how many."""
        with self.engine.begin() as connection:
            moved = connection.execute(
                update(push_queue_table).where(push_queue_table.c.due_at > later_than).values(due_at=due_at)
            )
        return moved.rowcount

    def next_push_due(self, only_fresh: bool = False) -> datetime | None:
        """When the next unclaimed push is due (None: the queue is empty); ``only_fresh``: of those never tried."""
        free = or_(push_queue_table.c.claimed_by == "", push_queue_table.c.claimed_until < now())
        query = select(func.min(push_queue_table.c.due_at)).where(free)
        if only_fresh:
            query = query.where(push_queue_table.c.attempts == 0)
        with self.engine.connect() as connection:
            moment = connection.execute(query).scalar()
        return _aware(moment) if moment else None

    # -- leavers ([offboarding]) -----------------------------------------------------

    def leavers(self) -> list[Offboarded]:
        """Every leaver [offboarding] acted on, latest departure first."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(leavers_table).order_by(leavers_table.c.left_at.desc())).mappings().all()
        return [_offboarded(row) for row in rows]

    def offboarded(self) -> dict[str, Offboarded]:
        return {leaver.google_id: leaver for leaver in self.leavers()}

    def transfers_to_look_at(self, moment: datetime) -> list[Offboarded]:
        """Transfers due to start (scheduled, the date passed, the user still gone) and those running at Google."""
        table = leavers_table.c
        due = table.transfer_status.in_(("scheduled", "failed")) & (table.transfer_due_at <= moment)
        running = table.transfer_status.in_(TRANSFER_STARTED)
        with self.engine.connect() as connection:
            rows = (
                connection.execute(
                    select(leavers_table)
                    .where((due | running) & table.returned_at.is_(None))
                    .order_by(table.transfer_due_at)
                )
                .mappings()
                .all()
            )
        return [_offboarded(row) for row in rows]

    def update_transfer(self, google_id: str, step: str = "", moment: datetime | None = None, **values) -> None:
        """A transfer's progress (status, id, attempts, error, dates), with a line in the leaver's steps (at ``moment``:
        the transfer runner's time)."""
        with self.engine.begin() as connection:
            row = (
                connection.execute(select(leavers_table).where(leavers_table.c.google_id == google_id))
                .mappings()
                .first()
            )
            if row is None:
                return
            steps = json.loads(row["steps"]) + ([[(moment or now()).isoformat(), step]] if step else [])
            connection.execute(
                update(leavers_table)
                .where(leavers_table.c.google_id == google_id)
                .values(**values, steps=json.dumps(steps), updated_at=now())
            )

    # -- named values --------------------------------------------------------------

    def get_value(self, name: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(select(values_table.c.value).where(values_table.c.name == name)).scalar()

    def delete_value(self, name: str) -> None:
        """Delete a named value so that a copy of the file no longer holds it (SQLite: overwritten, WAL emptied)."""
        with self.engine.begin() as connection:
            connection.execute(delete(values_table).where(values_table.c.name == name))
        self._empty_write_ahead_log()

    def _empty_write_ahead_log(self) -> None:
        """SQLite keeps old copies of changed pages in its WAL until a checkpoint: write them back and empty it.
        (Deleted content is zeroed in the pages themselves: every connection has secure_delete on.)"""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def first_value(self, name: str, value: str) -> str:
        """Store ``value`` under ``name`` unless one is there already (another server may write at the same moment);
        returns the value that stands."""
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(values_table).values(name=name, value=value))
        except IntegrityError:
            pass
        standing = self.get_value(name)
        if standing is None:  # deleted between the two statements: no value stands, so this one is written again
            return self.first_value(name, value)
        return standing

    def set_value(self, name: str, value: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(values_table).where(values_table.c.name == name))
            connection.execute(insert(values_table).values(name=name, value=value))


def _new_id(inserted: CursorResult[Any]) -> int:
    """The id of the one row an INSERT made (SQLAlchemy types it optional: it is None only for other statements)."""
    key = inserted.inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no id for the row just inserted")
    return int(key[0])


def _earliest(column, moment: datetime):
    return case((column < moment, column), else_=moment)


def _latest(column, moment: datetime):
    return case((column > moment, column), else_=moment)


def _queued(row) -> QueuedPush:
    return QueuedPush(**{name: row[name] for name in QueuedPush.__dataclass_fields__})


def _save_links(connection, links: list[Link]) -> None:
    for link in links:
        # The same Google object may have been linked to an entry that left the directory.
        for column, value in (("google_id", link.google_id), ("uuid", link.uuid)):
            connection.execute(
                delete(links_table).where(links_table.c.kind == link.kind, links_table.c[column] == value)
            )
        connection.execute(insert(links_table).values(**vars(link), updated_at=now()))


def _offboarded(row) -> Offboarded:
    def iso(moment: datetime | None) -> str:
        return _aware(moment).isoformat() if moment else ""

    return Offboarded(
        google_id=row["google_id"],
        uuid=row["uuid"],
        email=row["email"],
        left_at=iso(row["left_at"]),
        steps=tuple(tuple(step) for step in json.loads(row["steps"])),
        hidden=row["hidden"],
        moved_from=row["moved_from"],
        moved_to=row["moved_to"],
        transfer_to=row["transfer_to"],
        transfer_to_id=row["transfer_to_id"],
        transfer_applications=tuple(name for name in row["transfer_applications"].split(",") if name),
        transfer_due_at=iso(row["transfer_due_at"]),
        transfer_status=row["transfer_status"],
        transfer_id=row["transfer_id"],
        transfer_attempts=row["transfer_attempts"],
        transfer_error=row["transfer_error"],
        transfer_done_at=iso(row["transfer_done_at"]),
        returned_at=iso(row["returned_at"]),
    )


def _record_offboarding(connection, fact: dict) -> None:
    """One applied [offboarding] change in its leaver's row: a first step of a new departure starts the row afresh."""
    moment = now()
    fact = dict(fact)
    google_id, step = fact.pop("google_id"), fact.pop("step")
    identity = {"uuid": fact.pop("uuid"), "email": fact.pop("email")}
    row = connection.execute(select(leavers_table).where(leavers_table.c.google_id == google_id)).mappings().first()
    returning, departing = fact.pop("returned", False), fact.pop("departure", False)
    values = dict(row) if row is not None else {}
    if row is None or (row["returned_at"] is not None and departing):
        values = {
            "google_id": google_id,
            **LEAVER_DEFAULTS,
            "left_at": moment,
        }  # a departure, after a return or the first
    values.update(identity)
    if returning:
        values["returned_at"] = moment
        if values.get("transfer_status") in ("scheduled", "failed"):
            values["transfer_status"] = "cancelled"
    if "transfer_after" in fact:  # a new transfer: due once the grace period has passed from now
        values.update(
            transfer_due_at=moment + timedelta(seconds=fact.pop("transfer_after")),
            transfer_status="scheduled",
            transfer_id="",
            transfer_attempts=0,
            transfer_error="",
            transfer_done_at=None,
        )
    values.update(fact)
    values["steps"] = json.dumps(json.loads(values["steps"]) + [[moment.isoformat(), step]])
    values["updated_at"] = moment
    if row is None:
        connection.execute(insert(leavers_table).values(**values))
    else:
        connection.execute(update(leavers_table).where(leavers_table.c.google_id == google_id).values(**values))


def _insert_results(connection, run_id: int, results: list[dict]) -> None:
    if not results:
        return
    moment = now()
    rows = [
        dict(
            run_id=run_id,
            action=r["action"],
            object=r["object"],
            ok=r["ok"],
            message=r.get("message", ""),
            recorded_at=moment,
            data=json.dumps(
                {k: v for k, v in r.items() if k not in ("ok", "message")}, ensure_ascii=False, default=str
            ),
        )
        for r in results
    ]
    connection.execute(insert(results_table), rows)


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # the console reads while a run writes
    cursor.execute("PRAGMA synchronous=FULL")  # a recorded result survives a power loss, not only a crash
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # a deleted password hash or key is overwritten, not left in a free page
    cursor.close()
