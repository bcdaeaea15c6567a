"""Where every local user and synchronized group stands in Google, for the console's "Users and groups" page.

Built from what the engine already knows: the directory state, the store's links
and last per-object results, and, when Google can be reached, its state and the
plan the engine computes (a pending change means "pending"). No planning here:
the plan comes from the engine.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select

from .errors import GoogleSyncError
from .model import DirectoryState, GoogleState, LinkState
from .plan import MemberChange, Plan
from .planner import group_email, selected_groups, user_email
from .store import RunRecord, Store, results_table, runs_table

SYNCED, PENDING, SUSPENDED, ERROR, SKIPPED, OFF = "synced", "pending", "suspended", "error", "skipped", "off"
LABELS = {
    SYNCED: "Synchronized",
    PENDING: "Pending",
    SUSPENDED: "Suspended",
    ERROR: "Error",
    SKIPPED: "Skipped",
    OFF: "Google Apps off",
}


@dataclass(frozen=True)
class LastResult:
    ok: bool
    action: str
    message: str
    at: datetime


@dataclass(frozen=True)
class UserStatus:
    uid: str
    name: str
    email: str
    enabled: bool  # the Google Apps switch is on and the account is not locked
    state: str
    message: str = ""
    last_pushed: datetime | None = None

    @property
    def label(self) -> str:
        return LABELS[self.state]


@dataclass(frozen=True)
class GroupStatus:
    name: str
    email: str
    description: str
    members: int
    state: str
    message: str = ""
    last_pushed: datetime | None = None

    @property
    def label(self) -> str:
        return LABELS[self.state]


@dataclass(frozen=True)
class Overview:
    users: tuple[UserStatus, ...]
    groups: tuple[GroupStatus, ...]
    google_known: bool  # False: Google could not be read; states come from links and last results
    counts: dict[str, int] = field(default_factory=dict)


def last_results(store: Store) -> dict[str, LastResult]:
    """The latest applied result per object (address, or "group ← member"), oldest first so the newest wins."""
    query = (
        select(results_table.c.object, results_table.c.ok, results_table.c.action, results_table.c.message, runs_table.c.started_at)
        .join(runs_table, runs_table.c.id == results_table.c.run_id)
        .where(runs_table.c.dry_run.is_(False))
        .order_by(results_table.c.id)
    )
    latest: dict[str, LastResult] = {}
    with store.engine.connect() as connection:
        for row in connection.execute(query):
            at = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=timezone.utc)
            latest[row.object.lower()] = LastResult(bool(row.ok), row.action, row.message or "", at)
    return latest


def build_overview(
    desired: DirectoryState,
    links: LinkState,
    results: dict[str, LastResult],
    settings,
    google: GoogleState | None = None,
    plan: Plan | None = None,
) -> Overview:
    domain = settings.google.domain
    changes: dict[str, list] = {}
    for change in plan.changes if plan else ():
        key = change.group_email if isinstance(change, MemberChange) else change.subject
        changes.setdefault(key.lower(), []).append(change)
    warnings = {notice.subject: notice.message for notice in (plan.notices if plan else ()) if notice.level == "warning"}
    users = tuple(_user_status(user, domain, links, results, google, changes, warnings, plan is not None) for user in desired.users)
    synced_uids = {status.uid for status in users if status.state in (SYNCED, PENDING)}
    groups = tuple(
        _group_status(group, group_email(group, domain), links, results, google, changes, warnings, synced_uids)
        for group in selected_groups(desired.groups, settings)
    )
    counts: dict[str, int] = {}
    for status in users:
        counts[status.state] = counts.get(status.state, 0) + 1
    return Overview(users=users, groups=groups, google_known=google is not None, counts=counts)


def _last_pushed(result: LastResult | None) -> datetime | None:
    return result.at if result and result.ok else None


def _user_status(user, domain, links, results, google, changes, warnings, planned) -> UserStatus:
    email = user_email(user, domain)
    link = links.by_uuid("user").get(user.uuid)
    result = results.get(email) or (results.get(link.email) if link else None)
    account = None
    if google is not None:
        by_id = {account.id: account for account in google.users}
        account = by_id.get(link.google_id) if link else None
        account = account or next((candidate for candidate in google.users if candidate.primary_email == email), None)
    enabled = user.in_scope and not user.locked
    state, message = _user_state(user, email, link, account, result, google is not None, changes, warnings, planned, enabled)
    name = f"{user.given_name} {user.family_name}".strip()
    return UserStatus(user.uid, name, email, enabled, state, message, _last_pushed(result))


def _user_state(user, email, link, account, result, google_known, changes, warnings, planned, enabled) -> tuple[str, str]:
    if enabled and user.uid in warnings:
        return SKIPPED, warnings[user.uid]
    pending = changes.get(email, []) + (changes.get(link.email, []) if link and link.email != email else [])
    if result is not None and not result.ok and (pending or not google_known):
        return ERROR, f"{result.action}: {result.message}"
    if pending:
        return PENDING, "; ".join(_describe(change) for change in pending)
    suspended = account.suspended if account is not None else bool(link and link.suspended_by_us and not google_known)
    if suspended:
        return SUSPENDED, "" if enabled else "Google Apps off or locked: suspended, not deleted"
    if enabled and (account is not None or (link and not google_known)):
        return SYNCED, "" if google_known else "as of the last run (Google not reachable now)"
    if enabled:
        return PENDING, "not yet in Google" if planned or not google_known else ""
    if account is not None:
        return OFF, "has a Google account this tool does not manage; left as it is"
    return OFF, ""


def _describe(change) -> str:
    detail = change.describe()
    return f"{change.action} ({detail})" if detail else change.action


def _group_status(group, email, links, results, google, changes, warnings, synced_uids) -> GroupStatus:
    link = links.by_uuid("group").get(group.uuid)
    result = results.get(email)
    exists = None
    if google is not None:
        exists = any(candidate.email == email or (link and candidate.id == link.google_id) for candidate in google.groups)
    members = len(group.member_uids & synced_uids)
    if group.name in warnings:
        state, message = SKIPPED, warnings[group.name]
    elif result is not None and not result.ok and (changes.get(email) or google is None):
        state, message = ERROR, f"{result.action}: {result.message}"
    elif changes.get(email):
        state, message = PENDING, "; ".join(_describe(change) for change in changes[email])
    elif exists or (exists is None and link):
        state, message = SYNCED, ""
    else:
        state, message = PENDING, "not yet in Google"
    return GroupStatus(group.name, email, group.description, members, state, message, _last_pushed(result))


class _Recorder:
    """Wraps the engine's source or target to keep the state its ``read_state`` returned."""

    def __init__(self, inner):
        self.inner = inner
        self.state = None

    def read_state(self, *args, **kwargs):
        self.state = self.inner.read_state(*args, **kwargs)
        return self.state

    def __getattr__(self, name):
        return getattr(self.inner, name)


def read_overview(engine) -> tuple[Overview, str]:
    """The overview from one read of each side through the engine's own planning; '' or why Google is unknown.

    A directory that cannot be read raises (SourceError); Google that cannot be
    read gives an overview from the links and the last results.
    """
    source, target = _Recorder(engine.source), _Recorder(engine.target)
    engine.source, engine.target = source, target
    plan, problem = None, ""
    try:
        plan = engine.compute_plan()
    except GoogleSyncError as error:
        if source.state is None:
            raise
        problem = str(error)
    finally:
        engine.source, engine.target = source.inner, target.inner
    google = target.state if plan is not None else None
    overview = build_overview(source.state, engine.store.links(), last_results(engine.store), engine.settings, google, plan)
    return overview, problem


def run_record(store: Store, run_id: int) -> RunRecord | None:
    query = select(runs_table).where(runs_table.c.id == run_id)
    with store.engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None:
        return None
    return RunRecord(**{**row, "counts": json.loads(row["counts"] or "{}")})
