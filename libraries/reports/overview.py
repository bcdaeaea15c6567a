"""Where every local user and synchronized group stands in Google, for the console's "Users and groups" page.

Built from what the engine already knows: the directory state, the store's links
and last per-object results, and, when Google can be reached, its state and the
plan the engine computes (a pending change means "pending"). No planning here:
the plan comes from the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import func, select

from ..core.codes import SKIP_CODES, UNOWNED_CODES, NoticeCode
from ..core.errors import GoogleSyncError
from ..core.model import DirectoryState, GoogleState, Link, LinkState
from ..state.store import Store, results_table, runs_table
from ..sync.plan import MemberChange, Notice, Plan
from ..sync.planner import group_email, selected_groups, user_email

SYNCED, PENDING, SUSPENDED, ERROR, SKIPPED, LOCKED, OFF = (
    "synced",
    "pending",
    "suspended",
    "error",
    "skipped",
    "locked",
    "off",
)
LABELS = {
    SYNCED: "Synchronized",
    PENDING: "Pending",
    SUSPENDED: "Suspended",
    ERROR: "Error",
    SKIPPED: "Skipped",
    LOCKED: "Locked",
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
    """The latest applied result per object (address, or "group ← member"), from one query on the object index:
    the newest result of each object, joined back to its row and its run (not every result of every run)."""
    newest = (
        select(func.max(results_table.c.id).label("id"))
        .select_from(results_table.join(runs_table, runs_table.c.id == results_table.c.run_id))
        .where(runs_table.c.dry_run.is_(False))
        .group_by(results_table.c.object)
        .subquery()
    )
    query = (
        select(
            results_table.c.object,
            results_table.c.ok,
            results_table.c.action,
            results_table.c.message,
            runs_table.c.started_at,
        )
        .join(newest, newest.c.id == results_table.c.id)
        .join(runs_table, runs_table.c.id == results_table.c.run_id)
        .order_by(results_table.c.id)
    )  # oldest first: of two spellings of one address, the newest wins
    latest: dict[str, LastResult] = {}
    with store.engine.connect() as connection:
        for row in connection.execute(query):
            at = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=UTC)
            latest[row.object.lower()] = LastResult(bool(row.ok), row.action, row.message or "", at)
    return latest


@dataclass(frozen=True)
class _Known:
    """Everything a status is judged from, indexed once."""

    domain: str
    user_links: dict
    group_links: dict
    results: dict[str, LastResult]
    accounts_by_id: dict | None  # None: Google not read
    accounts_by_email: dict | None
    groups_by_id: dict | None
    groups_by_email: dict | None
    changes: dict[str, list]
    warnings: dict[str, list[Notice]]
    planned: bool

    @property
    def google_known(self) -> bool:
        return self.accounts_by_id is not None


def build_overview(
    desired: DirectoryState,
    links: LinkState,
    results: dict[str, LastResult],
    settings,
    google: GoogleState | None = None,
    plan: Plan | None = None,
) -> Overview:
    changes: dict[str, list] = {}
    for change in plan.changes if plan else ():
        key = change.group_email if isinstance(change, MemberChange) else change.subject
        changes.setdefault(key.lower(), []).append(change)
    warnings: dict[str, list[Notice]] = {}
    for notice in plan.notices if plan else ():
        if notice.level == "warning":
            warnings.setdefault(notice.subject, []).append(notice)
    known = _Known(
        domain=settings.google.address_domain,
        user_links=links.by_uuid("user"),
        group_links=links.by_uuid("group"),
        results=results,
        accounts_by_id={account.id: account for account in google.users} if google else None,
        accounts_by_email={account.primary_email: account for account in google.users} if google else None,
        groups_by_id={group.id: group for group in google.groups} if google else None,
        groups_by_email={group.email: group for group in google.groups} if google else None,
        changes=changes,
        warnings=warnings,
        planned=plan is not None,
    )
    users = tuple(_user_status(user, known) for user in desired.users)
    synced_uids = {status.uid for status in users if status.state in (SYNCED, PENDING)}
    groups = tuple(_group_status(group, known, synced_uids) for group in selected_groups(desired.groups, settings))
    counts: dict[str, int] = {}
    for status in users:
        counts[status.state] = counts.get(status.state, 0) + 1
    return Overview(users=users, groups=groups, google_known=known.google_known, counts=counts)


def _last_pushed(result: LastResult | None) -> datetime | None:
    return result.at if result and result.ok else None


def _skip_reason(notices: list[Notice]) -> str:
    """The planner's "skipped" warnings mark an object it leaves alone; other warnings are remarks."""
    return "; ".join(notice.message for notice in notices if notice.code in SKIP_CODES)


def _with_remarks(state: str, message: str, notices: list[Notice]) -> tuple[str, str]:
    remarks = [notice.message for notice in notices if notice.code not in SKIP_CODES]
    return state, "; ".join(part for part in (message, *remarks) if part)


def _describe(change) -> str:
    detail = change.describe()
    return f"{change.action} ({detail})" if detail else change.action


def _user_status(user, known: _Known) -> UserStatus:
    email = user_email(user, known.domain)
    link = known.user_links.get(user.uuid)
    result = known.results.get(email) or (known.results.get(link.email) if link else None)
    account = None
    if known.accounts_by_id is not None and known.accounts_by_email is not None:  # Google was read
        account = (known.accounts_by_id.get(link.google_id) if link else None) or known.accounts_by_email.get(email)
    enabled = user.in_scope and user.in_pilot and not user.locked
    messages = known.warnings.get(user.uid, [])
    if not user.in_pilot:
        state, message = OFF, "outside the pilot ([sources] pilot_source, pilot_users): left as it is in Google"
    elif enabled and _skip_reason(messages):
        state, message = SKIPPED, _skip_reason(messages)
    else:
        pending = known.changes.get(email, []) + (
            known.changes.get(link.email, []) if link and link.email != email else []
        )
        locked = user.locked and user.in_scope  # the option on, the account locked: "Locked", not "Google Apps off"
        if locked:  # its state says it once
            messages = [notice for notice in messages if notice.code != NoticeCode.USER_LOCKED]
        state, message = _with_remarks(*_user_state(link, account, result, pending, known, enabled, locked), messages)
    name = f"{user.given_name} {user.family_name}".strip()
    return UserStatus(user.uid, name, email, enabled, state, message, _last_pushed(result))


def _user_state(link, account, result, pending, known: _Known, enabled: bool, locked: bool = False) -> tuple[str, str]:
    if result is not None and not result.ok and (pending or not known.google_known):
        return ERROR, f"{result.action}: {result.message}"
    if pending:
        return PENDING, "; ".join(_describe(change) for change in pending)
    suspended = (
        account.suspended if account is not None else bool(link and link.suspended_by_us and not known.google_known)
    )
    if suspended:
        if locked:
            return (
                SUSPENDED,
                "locked in the directory: suspended, not deleted; unlock it in the user manager to synchronize it",
            )
        return SUSPENDED, "" if enabled else "Google Apps off: suspended, not deleted"
    if enabled and (account is not None or (link and not known.google_known)):
        return SYNCED, "" if known.google_known else "as of the last run (Google not reachable now)"
    if enabled:
        return PENDING, "not yet in Google" if known.planned or not known.google_known else ""
    if locked:
        return LOCKED, "locked in the directory: not active in Google; unlock it in the user manager to synchronize it"
    if account is not None:
        return OFF, "has a Google account this tool does not manage; left as it is"
    return OFF, ""


def _group_status(group, known: _Known, synced_uids: set[str]) -> GroupStatus:
    email = group_email(group, known.domain)
    link = known.group_links.get(group.uuid)
    result = known.results.get(email)
    pending = known.changes.get(email, [])
    messages = known.warnings.get(group.name, [])
    exists = None
    if known.groups_by_id is not None and known.groups_by_email is not None:  # Google was read
        exists = bool((link and link.google_id in known.groups_by_id) or email in known.groups_by_email)
    if _skip_reason(messages):
        state, message = SKIPPED, _skip_reason(messages)
    elif result is not None and not result.ok and (pending or not known.google_known):
        state, message = _with_remarks(ERROR, f"{result.action}: {result.message}", messages)
    elif pending:
        state, message = _with_remarks(PENDING, "; ".join(_describe(change) for change in pending), messages)
    elif exists or (exists is None and link):
        state, message = _with_remarks(SYNCED, "", messages)
    else:
        state, message = _with_remarks(PENDING, "not yet in Google", messages)
    members = len(group.member_uids & synced_uids)
    return GroupStatus(group.name, email, group.description, members, state, message, _last_pushed(result))


def _planned(engine) -> tuple[Plan | None, DirectoryState, GoogleState | None, str]:
    """The engine's plan with the states it read (one read of each side); Google's problem, if it could not be read.

    A directory that cannot be read raises (SourceError).
    """
    snapshot = engine.snapshot()
    return snapshot.plan, snapshot.desired, snapshot.existing, str(snapshot.google_error or "")


def overview_of(engine, snapshot) -> Overview:
    """The overview from a snapshot the engine already read (a test synchronization's): no second read."""
    return build_overview(
        snapshot.desired,
        engine.store.links(),
        last_results(engine.store),
        engine.settings,
        snapshot.existing,
        snapshot.plan,
    )


def read_overview(engine) -> tuple[Overview, str]:
    """The overview from one read of each side through the engine's own planning; '' or why Google is unknown.

    Google that cannot be read gives an overview from the links and the last results.
    """
    plan, desired, google, problem = _planned(engine)
    overview = build_overview(desired, engine.store.links(), last_results(engine.store), engine.settings, google, plan)
    return overview, problem


# -- the Groups page ---------------------------------------------------------------


@dataclass(frozen=True)
class GroupRow:
    name: str
    description: str
    email: str
    members: int  # users listed in the group
    nested: tuple[str, ...]  # groups listed in the group
    synchronized: bool  # as the configuration stands now


@dataclass(frozen=True)
class GroupsView:
    groups: tuple[
        GroupRow, ...
    ]  # the groups an administrator may choose (the source leaves out reserved and *_plugin groups)
    removed: tuple[Link, ...]  # synchronized before, no longer: left in Google as they are


def read_groups(engine) -> GroupsView:
    """The directory's groups, which of them the settings synchronize, and the groups that left (one directory read)."""
    desired = engine.source.read_state()
    removed = engine.removed_groups(desired)
    groups = desired.groups
    settings = engine.settings
    everything = replace(settings, sync=replace(settings.sync, groups=("*",), exclude_groups=()))
    choosable = selected_groups(groups, everything)
    synchronized = {group.uuid for group in selected_groups(groups, settings)}
    rows = tuple(
        GroupRow(
            name=group.name,
            description=group.description,
            email=group_email(group, settings.google.address_domain),
            members=len(group.member_uids),
            nested=tuple(sorted(group.member_groups)),
            synchronized=group.uuid in synchronized,
        )
        for group in sorted(choosable, key=lambda group: group.name.lower())
    )
    return GroupsView(groups=rows, removed=tuple(sorted(removed, key=lambda link: link.email)))


# -- Google-only accounts (the Import page) ------------------------------------------

_UID_UNSAFE = re.compile(r"[^a-z0-9._-]")


@dataclass(frozen=True)
class GoogleOnlyAccount:
    email: str
    given_name: str
    family_name: str
    is_admin: bool
    uid: str  # the suggested local user name
    # Mapped fields that hold a value in Google: a local account created without them would clear them.
    google_values: tuple[tuple[str, str], ...] = ()


def suggested_uid(email: str) -> str:
    return _UID_UNSAFE.sub("", email.partition("@")[0].lower())


def google_only_accounts(engine) -> list[GoogleOnlyAccount]:
    """Active Google accounts that match no local user, from the plan's notices (the administrator's among them).

    Raises GoogleSyncError when the directory or Google cannot be read.
    """
    plan, desired, google, problem = _planned(engine)
    if plan is None or google is None:  # no plan without Google's state: both are there, or neither
        raise GoogleSyncError(problem)
    local = {user_email(user, engine.settings.google.address_domain) for user in desired.users}
    emails = {notice.subject.lower() for notice in plan.notices if notice.code in UNOWNED_CODES} - local
    mapped = [
        name
        for name in ("title", "department", "phone", "mobile", "employee_id")
        if getattr(engine.settings.attributes, name)
    ]
    accounts = []
    for account in google.users:
        if account.primary_email in emails:
            values = tuple((name, account.mapped_value(name)) for name in mapped if account.mapped_value(name))
            accounts.append(
                GoogleOnlyAccount(
                    email=account.primary_email,
                    given_name=account.given_name,
                    family_name=account.family_name,
                    is_admin=account.is_admin,
                    uid=suggested_uid(account.primary_email),
                    google_values=values,
                )
            )
    return sorted(accounts, key=lambda account: (not account.is_admin, account.email))
