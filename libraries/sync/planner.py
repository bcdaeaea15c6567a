"""The pure heart: (directory state, Google state, links) in, a Plan out.

No I/O, no clock. Rules that matter for safety live here, where tests can reach
every one of them with plain values:
- a Google account is never deleted, only suspended, and only when we manage it
  (it is linked to a directory entry) or the administrator asked to mirror;
- administrators are never suspended;
- an object that fails validation is skipped, and skipping protects its Google
  account from suspension, and its group memberships from removal, too;
- accounts are unsuspended only when we suspended them, or when a directory
  user adopts a suspended account with its address (ClearOS' EntityExists case).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..core.codes import NoticeCode
from ..core.model import (
    CustomField,
    DirectoryGroup,
    DirectoryState,
    DirectoryUser,
    FieldChange,
    GoogleGroup,
    GoogleState,
    GoogleUser,
    Link,
    LinkState,
    Offboarded,
    PasswordHash,
)
from ..core.passwords import NO_PASSWORD, fingerprint
from ..settings.config import Settings, is_reserved_group
from . import offboarding, photos, safety
from .plan import (
    ADDRESS_AND_NAME,
    AddAlias,
    AddMember,
    AdoptGroup,
    AdoptUser,
    AssignLicense,
    Change,
    CreateGroup,
    CreateOrgUnit,
    CreateUser,
    Notice,
    Plan,
    ReassignLicense,
    ReleaseLicense,
    RemoveMember,
    RemovePhoto,
    SetPassword,
    SetPhoto,
    SetPostingPolicy,
    SuspendUser,
    UnsuspendUser,
    UpdateGroup,
    UpdateUser,
)
from .safety import Budget
from .user_fields import aliases_to_add, custom_body, custom_changes, dn_key, field_changes, patch_body

# What a locked user needs: it stays out of Google whatever its Google Apps option says.
LOCKED_ADVICE = (
    "locked in the directory ([ldap] disabled_filter: pwdAccountLockedTime, shadowExpire=1 or clearAccountStatus=disabled), "
    "so it is suspended in Google, or not created there; unlock the account in the user manager to synchronize it"
)
MAX_NAME_LENGTH = 60  # Google's limit for givenName and familyName
MAX_GROUP_NAME_LENGTH = 73
# Google's name guidelines: any Unicode in a given name or surname but angle brackets (its insert refuses them).
NAME_FORBIDDEN = frozenset("<>")
# Google usernames: letters, digits, dashes, underscores, apostrophes and single dots inside.
_LOCAL_PART = re.compile(r"[a-z0-9_'-]+(\.[a-z0-9_'-]+)*")


@dataclass(frozen=True)
class WantedUser:
    """A directory user that passed validation and should be active in Google."""

    source: DirectoryUser
    email: str

    @property
    def uuid(self) -> str:
        return self.source.uuid


def email_problem(
    email: str, domain: str, domains: frozenset[str] = frozenset(), unverified: frozenset[str] = frozenset()
) -> str:
    """Why Google would refuse ``email`` as a primary address: '' when it is fine. ``domains``: all the
    account's domains when there are several (``domain`` is then the one made-up addresses use); ``unverified``:
    those Google lists but has not verified (it makes no address there)."""
    local, _, email_domain = email.partition("@")
    if not _LOCAL_PART.fullmatch(local) or not email_domain:
        return f"address {email!r} is not a valid Google username (letters, digits, - _ ' and single dots only)"
    allowed = domains or frozenset({domain})
    if email_domain in allowed:
        return ""
    if email_domain in unverified:
        return (
            f"address {email} is in the domain {email_domain}, which Google lists but has not verified: no user or group "
            "can have an address there until it is verified (Admin console, Account > Domains)"
        )
    if len(allowed) > 1:
        return (
            f"address {email} is in none of the account's domains; these would work: {', '.join(sorted(allowed))} "
            "(give the entry an address in one of them, or add its domain to Google and to [google] domains)"
        )
    (domain,) = allowed
    return (
        f"address {email} is outside the Google domain {domain}: give the entry an address @{domain}, "
        f"or set [ldap] mail_attribute = (empty) to use <uid>@{domain} for everyone"
    )


def user_email(user: DirectoryUser, domain: str) -> str:
    return (user.mail or f"{user.uid}@{domain}").strip().lower()


def user_problem(
    user: DirectoryUser, domain: str, domains: frozenset[str] = frozenset(), unverified: frozenset[str] = frozenset()
) -> str:
    for label, attribute, value in (("given name", "givenName", user.given_name), ("surname", "sn", user.family_name)):
        if not value.strip():
            return f"has no {label} ({attribute}); Google requires one: set it in the user manager"
        if len(value) > MAX_NAME_LENGTH:
            return (
                f"{label} is {len(value)} characters long; Google allows at most {MAX_NAME_LENGTH}: shorten {attribute}"
            )
        if set(value) & NAME_FORBIDDEN:
            return f"{label} {value!r} contains '<' or '>', which Google does not allow in names: remove them from {attribute}"
    return email_problem(user_email(user, domain), domain, domains, unverified)


@dataclass(frozen=True)
class Scope:
    """A targeted push: only these entries may change, and nothing domain-wide is planned.

    The caller reads just these objects on both sides, so the planner must not
    take the absence of everything else as a reason to act.
    """

    user_uuids: frozenset[str] = frozenset()
    group_uuids: frozenset[str] = frozenset()


@dataclass
class _Planning:
    """Working memory of one planning pass; discarded when the Plan is built."""

    desired: DirectoryState
    existing: GoogleState
    links: LinkState
    settings: Settings
    scope: Scope | None = None
    password_key: bytes = b""  # keys the fingerprints of pushed passwords; empty: push passwords only on creation
    changes: list[Change] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)  # Google user ids spoken for this run
    protected: set[str] = field(default_factory=set)  # Google user ids of skipped users: their memberships stay too
    synced_emails: dict[str, str] = field(default_factory=dict)  # uid -> email of users active after the run
    google_ids: dict[str, str] = field(default_factory=dict)  # email -> Google id of users and groups known to Google
    group_emails: dict[str, str] = field(default_factory=dict)  # name -> email of the groups that go to Google
    cyclic: set[tuple[str, str]] = field(default_factory=set)  # nestings left out because they form a cycle
    group_members: dict[str, tuple[str, int]] = field(
        default_factory=dict
    )  # email -> (entryUUID, members in Google) of planned groups
    email_by_dn: dict[str, str] = field(
        default_factory=dict
    )  # DN (one spelling) -> address of each valid user: managers
    offboarded: Mapping[str, Offboarded] = field(
        default_factory=dict
    )  # Google id -> what [offboarding] did to that leaver
    now: datetime | None = None  # only to show people when a transfer is due (the plan's data never holds it)

    def __post_init__(self) -> None:
        google = self.settings.google
        self.domain = google.address_domain  # where addresses made up from a uid or a group name go
        # Where primary addresses may be (several only when [google] domains is set), and where aliases may be too.
        self.domains = (
            google.listed_domains | (self.existing.domains or frozenset()) if google.multi_domain else frozenset()
        )
        self.alias_domains = (self.domains | self.existing.domain_aliases) or frozenset({self.domain})
        self.google_by_id = {user.id: user for user in self.existing.users}
        self.google_by_email = {user.primary_email: user for user in self.existing.users}
        self.user_links = self.links.by_uuid("user")
        self.custom_fields = self._custom_fields()

    def _custom_fields(self) -> dict[str, CustomField]:
        """[custom_attributes] keys → the account's fields they name (whatever their case); the unknown reported."""
        if not self.settings.custom_attributes or self.existing.custom_fields is None:
            return {}
        known = {spec.key.lower(): spec for spec in self.existing.custom_fields}
        found = {}
        for key, _ in self.settings.custom_attributes:
            if key.lower() in known:
                found[key] = known[key.lower()]
            else:
                schemas = sorted({spec.schema for spec in self.existing.custom_fields})
                self.warn(
                    NoticeCode.CUSTOM_FIELD_UNKNOWN,
                    f"[custom_attributes] {key}",
                    "no such custom field in Google; nothing is synchronized to it: create it in "
                    f"Google Admin (Directory › Users › Manage custom attributes) or fix the name (schemas: {', '.join(schemas) or 'none'})",
                )
        return found

    def patch_body(self, changes: tuple[FieldChange, ...], account: GoogleUser | None) -> dict[str, Any]:
        return {**patch_body(changes, account), **custom_body(changes, account, self.custom_fields)}

    def warn(self, code: NoticeCode, subject: str, message: str) -> None:
        self.notices.append(Notice("warning", subject, message, code))

    def info(self, code: NoticeCode, subject: str, message: str) -> None:
        self.notices.append(Notice("info", subject, message, code))

    def is_protected(self, account: GoogleUser) -> bool:
        return account.is_admin or account.primary_email == self.settings.google.admin_email

    def in_user_scope(self, uuid: str) -> bool:
        return self.scope is None or uuid in self.scope.user_uuids

    def in_group_scope(self, uuid: str) -> bool:
        return self.scope is None or uuid in self.scope.group_uuids

    def fingerprint(self, password: PasswordHash | None) -> str:
        return fingerprint(self.password_key, password) if password and self.password_key else ""

    def org_unit(self, user: DirectoryUser) -> str | None:
        """The org unit path the user belongs in; None when org units are not managed."""
        if not self.settings.manages_org_units or self.existing.org_units is None:
            return None
        if user.org_unit.startswith("/"):  # placed by its source subtree
            return user.org_unit
        if not self.settings.sync.org_units:
            return None  # outside every placed subtree: left where it is
        root = self.settings.sync.org_unit_root.rstrip("/")
        return f"{root}/{user.org_unit}" if user.org_unit else (root or "/")

    def field_changes(self, user: WantedUser, account: GoogleUser | None) -> tuple[FieldChange, ...]:
        changes = field_changes(
            user.source,
            user.email,
            account,
            self.settings.attributes,
            self.org_unit(user.source),
            self.manager_of(user),
        )
        custom, problems = custom_changes(user.source, account, self.custom_fields)
        for problem in problems:
            self.warn(NoticeCode.CUSTOM_VALUE_INVALID, user.source.uid, problem)
        return changes + custom

    def manager_of(self, user: WantedUser) -> str | None:
        """The manager's Google address ('' for none); None when not managed, or when the manager is not
        synchronized: then Google's relation is left as it is and the test says why."""
        if not self.settings.attributes.manager:
            return None
        if not user.source.manager:
            return ""
        email = self.email_by_dn.get(user.source.manager)
        if email is None:
            self.warn(
                NoticeCode.MANAGER_NOT_SYNCHRONIZED,
                user.source.uid,
                f"manager {user.source.manager} is not synchronized to Google (not a user with the Google Apps "
                "option, or skipped): the manager in Google is left as it is",
            )
        return email


def build_plan(
    desired: DirectoryState,
    existing: GoogleState,
    links: LinkState,
    settings: Settings,
    scope: Scope | None = None,
    password_key: bytes = b"",
    budget: Budget = Budget(),
    offboarded: Mapping[str, Offboarded] | None = None,
    now: datetime | None = None,
) -> Plan:
    if settings.sync.create_missing_members:
        desired = _with_group_members_in_scope(desired, settings)
    desired = with_target_group(desired, settings)
    planning = _Planning(desired, existing, links, settings, scope, password_key, offboarded=offboarded or {}, now=now)
    wanted = _validate_users(planning)
    planning.email_by_dn = {dn_key(user.source.dn): user.email for user in wanted}
    _plan_wanted_users(planning, wanted)
    _plan_unwanted_users(planning)
    if scope is None and not settings.sources.pilot:  # a pilot touches nobody outside it
        _plan_unmanaged_accounts(planning)
        _warn_unowned_admins(planning)
    offboarding.plan_leavers(planning)
    _plan_org_units(planning)
    _plan_licenses(planning)
    _plan_groups(planning)
    _plan_new_memberships(planning)
    notices = tuple(planning.notices)
    if budget.lifted:
        return Plan(changes=tuple(planning.changes), notices=notices, covers=_covers(scope))
    if scope is not None:  # a push is never refused as a whole: what breaks a limit is held, the rest applies
        changes, held = safety.hold_over_limits(planning.changes, _push_limits(planning, budget))
        return Plan(changes=tuple(changes), notices=notices, held=tuple(held), covers=_covers(scope))
    active = sum(not user.suspended for user in planning.existing.users)
    refusals = safety.run_refusals(
        planning.changes,
        settings.sync,
        budget,
        active,
        _members_in_google(planning),
        _managed_without_users(planning, wanted),
    )
    return Plan(changes=tuple(planning.changes), notices=notices, refusals=refusals, covers=None)


def _push_limits(planning: _Planning, budget: Budget) -> safety.PushLimits:
    active = budget.active_accounts if budget.active_accounts is not None else len(planning.links.by_uuid("user"))
    return safety.PushLimits(planning.settings.sync, planning.settings.ldap, budget, active, planning.group_members)


def _members_in_google(planning: _Planning) -> dict[str, int]:
    return {email: members for email, (_, members) in planning.group_members.items()}


def _managed_without_users(planning: _Planning, wanted: list[WantedUser]) -> int:
    """Managed accounts in Google when the directory returned no user to synchronize (a broken read, not departures)."""
    if wanted or any(user.in_scope for user in planning.desired.users):
        return 0
    return sum(1 for link in planning.links.links if link.kind == "user" and link.google_id in planning.google_by_id)


def _covers(scope: Scope | None) -> frozenset[str] | None:
    """A push speaks for its own entries; a full run for the whole directory (None)."""
    return None if scope is None else scope.user_uuids | scope.group_uuids


# -- users ---------------------------------------------------------------------


def _with_group_members_in_scope(desired: DirectoryState, settings: Settings) -> DirectoryState:
    """Members of synchronized groups count as switched on (locked accounts stay out)."""
    members = set().union(
        *(
            group.member_uids
            for group in selected_groups(desired.groups, settings)
            if not group.uuid.startswith(TARGET_GROUP_UUID)
        )
    )
    users = tuple(replace(user, in_scope=True) if user.uid in members else user for user in desired.users)
    return replace(desired, users=users)


def _validate_users(planning: _Planning) -> list[WantedUser]:
    """Wanted users that Google will accept; the others are reported and their accounts left alone."""
    candidates: dict[str, list[DirectoryUser]] = {}
    for user in planning.desired.users:
        if not user.in_pilot:
            _protect_account_of(planning, user)  # outside the pilot: left exactly as it is, groups included
            continue
        if user.in_scope and user.locked and not _has_account(planning, user):
            # Nothing to suspend, so no change would mention it: the option is on, yet the account is never made.
            planning.warn(NoticeCode.USER_LOCKED, user.uid, f"not created in Google: '{user.uid}' is {LOCKED_ADVICE}")
        if not user.in_scope or user.locked:
            continue
        problem = user_problem(user, planning.domain, planning.domains, planning.existing.unverified_domains)
        if problem:
            planning.warn(NoticeCode.USER_INVALID, user.uid, f"skipped: {problem}")
            _protect_account_of(planning, user)
            continue
        candidates.setdefault(user_email(user, planning.domain), []).append(user)
    wanted = []
    for email, users in sorted(candidates.items()):
        if len(users) > 1:
            names = ", ".join(sorted(user.uid for user in users))
            for user in users:
                planning.warn(
                    NoticeCode.ADDRESS_SHARED,
                    user.uid,
                    f"skipped: address {email} is shared by {names}; give each user its own address",
                )
                _protect_account_of(planning, user)
            continue
        wanted.append(WantedUser(users[0], email))
    return wanted


def _has_account(planning: _Planning, user: DirectoryUser) -> bool:
    """Whether Google holds an account for ``user``: linked, or at its address."""
    link = planning.user_links.get(user.uuid)
    return (
        bool(link and link.google_id in planning.google_by_id)
        or user_email(user, planning.domain) in planning.google_by_email
    )


def _protect_account_of(planning: _Planning, user: DirectoryUser) -> None:
    """A skipped user keeps its Google account exactly as it is, suspended or not."""
    link = planning.user_links.get(user.uuid)
    if link:  # a group push reads the group's members, not their accounts: the link alone names the account
        planning.protected.add(link.google_id)
    if link and link.google_id in planning.google_by_id:
        planning.claimed.add(link.google_id)
    account = planning.google_by_email.get(user_email(user, planning.domain))
    if account:
        planning.claimed.add(account.id)
        planning.protected.add(account.id)


def _account_for(planning: _Planning, wanted: WantedUser) -> tuple[GoogleUser | None, Link | None]:
    link = planning.user_links.get(wanted.uuid)
    if link and link.google_id in planning.google_by_id:
        return planning.google_by_id[link.google_id], link
    return planning.google_by_email.get(wanted.email), None


def _plan_wanted_users(planning: _Planning, wanted: list[WantedUser]) -> None:
    for user in wanted:
        if not planning.in_user_scope(user.uuid):
            _note_linked_member(planning, user)
            continue
        account, link = _account_for(planning, user)
        if account is not None and account.id in planning.claimed:
            planning.warn(
                NoticeCode.ACCOUNT_TAKEN,
                user.source.uid,
                f"skipped: the Google account {account.primary_email} is already matched to another directory user",
            )
            continue
        _plan_photo(planning, user, account, link)
        if account is None:
            _plan_create(planning, user)
            continue
        planning.claimed.add(account.id)
        planning.google_ids[user.email] = account.id
        if link is None:
            _plan_adopt(planning, user, account)
        else:
            _plan_update(planning, user, account, link)
        if not account.suspended or link is None or link.suspended_by_us:  # active in Google after this run
            planning.synced_emails[user.source.uid] = user.email
            _plan_password(planning, user, account, link)


def _note_linked_member(planning: _Planning, user: WantedUser) -> None:
    """Outside the scope of a targeted push, a user counts as in Google when we manage it there."""
    link = planning.user_links.get(user.uuid)
    if link and not link.suspended_by_us:
        planning.synced_emails[user.source.uid] = link.email
        planning.google_ids[link.email] = link.google_id


def _report_password_problem(planning: _Planning, user: DirectoryUser) -> None:
    if user.password is None and user.captured_password is None and user.password_problem:
        level = planning.info if user.password_problem == NO_PASSWORD else planning.warn
        level(NoticeCode.PASSWORD_NOT_SYNCED, user.uid, f"password not synchronized: {user.password_problem}")


def _plan_create(planning: _Planning, user: WantedUser) -> None:
    source = user.source
    _report_password_problem(planning, source)
    password = source.captured_password or source.password
    changes = planning.field_changes(user, None)
    planning.changes.append(
        CreateUser(
            uuid=user.uuid,
            email=user.email,
            given_name=source.given_name,
            family_name=source.family_name,
            password=password,
            fingerprint=planning.fingerprint(source.password or password),
            extra=tuple(change for change in changes if change.field not in ADDRESS_AND_NAME),
            schemas=custom_body(changes, None, planning.custom_fields).get("customSchemas"),
        )
    )
    planning.synced_emails[source.uid] = user.email
    _plan_aliases(planning, user, None)


def _plan_photo(planning: _Planning, user: WantedUser, account: GoogleUser | None, link: Link | None) -> None:
    """Push the directory's photo when it differs from the one last pushed; remove only a photo this tool set."""
    if not planning.settings.attributes.photo:
        return
    photo, pushed = user.source.photo, link.photo_fingerprint if link else ""
    google_id = account.id if account else ""
    if not photo:
        if pushed and account:
            planning.changes.append(RemovePhoto(uuid=user.uuid, email=user.email, google_id=google_id))
        return
    problem = photos.photo_problem(photo)
    if problem:
        planning.warn(NoticeCode.PHOTO_REJECTED, user.source.uid, f"photo not synchronized: {problem}")
        return
    digest = photos.fingerprint(photo)
    if digest != pushed:
        planning.changes.append(
            SetPhoto(
                uuid=user.uuid,
                email=user.email,
                google_id=google_id,
                photo=photo,
                mime_type=photos.photo_type(photo),
                fingerprint=digest,
            )
        )


def _plan_licenses(planning: _Planning) -> None:
    """A licence for the users this run creates or unsuspends, and for those it created earlier that still lack
    one (a 412 then); accounts it adopted keep whatever licences Google gave them. Google gives a user one SKU
    per product: one holding another SKU of the product (automatic licensing's default, say) is reassigned.
    With release_on_suspend, the licence of each user this run suspends is freed."""
    wanted = planning.settings.licenses
    held = planning.existing.licensed
    if not wanted.product or held is None:
        return
    elsewhere = dict(planning.existing.licensed_elsewhere)
    starting = {
        c.email
        for c in planning.changes
        if isinstance(c, (CreateUser, UnsuspendUser)) or (isinstance(c, AdoptUser) and c.unsuspend)
    }
    ours = {link.uuid for link in planning.user_links.values() if link.created_by_us}
    for user in planning.desired.users:
        email = planning.synced_emails.get(user.uid)
        if (
            email
            and planning.in_user_scope(user.uuid)
            and email not in held
            and (email in starting or user.uuid in ours)
        ):
            if email in elsewhere:
                planning.changes.append(
                    ReassignLicense(
                        uuid=user.uuid, email=email, product=wanted.product, sku=wanted.sku, held_sku=elsewhere[email]
                    )
                )
            else:
                planning.changes.append(
                    AssignLicense(uuid=user.uuid, email=email, product=wanted.product, sku=wanted.sku)
                )
    if wanted.release_on_suspend:
        for change in [c for c in planning.changes if isinstance(c, SuspendUser) and c.email in held]:
            planning.changes.append(
                ReleaseLicense(uuid=change.uuid, email=change.email, product=wanted.product, sku=wanted.sku)
            )


def _plan_password(planning: _Planning, user: WantedUser, account: GoogleUser, link: Link | None) -> None:
    """Push a password only when it changed since the last push (compared by keyed fingerprint)."""
    source = user.source
    if not (link and link.password_fingerprint):  # once a password went through (e.g. captured), no need to nag
        _report_password_problem(planning, source)
    # A captured password is recorded under the directory's fingerprint, so the next full run does not push it again.
    recorded = planning.fingerprint(source.password or source.captured_password)
    if source.captured_password is None and (not recorded or (link and link.password_fingerprint == recorded)):
        return
    planning.changes.append(
        SetPassword(
            uuid=user.uuid,
            email=user.email,
            google_id=account.id,
            password=source.captured_password or source.password,
            captured=source.captured_password is not None,
            fingerprint=recorded,
        )
    )


def _plan_aliases(planning: _Planning, user: WantedUser, account: GoogleUser | None) -> None:
    for alias in aliases_to_add(user.source, account, planning.alias_domains, planning.settings.attributes):
        planning.changes.append(AddAlias(uuid=user.uuid, email=user.email, alias=alias))
    outside = [alias for alias in user.source.aliases if alias.lower().rpartition("@")[2] not in planning.alias_domains]
    if outside and planning.settings.attributes.aliases:
        where = ", ".join(sorted(planning.alias_domains))
        planning.info(
            NoticeCode.ALIASES_OUTSIDE_DOMAIN,
            user.source.uid,
            f"aliases outside {where} not synchronized: {', '.join(sorted(outside))}",
        )


def _email_taken(planning: _Planning, email: str, account: GoogleUser) -> bool:
    holder = planning.google_by_email.get(email)
    return holder is not None and holder.id != account.id


def _plan_adopt(planning: _Planning, user: WantedUser, account: GoogleUser) -> None:
    changes = planning.field_changes(user, account)
    planning.changes.append(
        AdoptUser(
            uuid=user.uuid,
            email=user.email,
            google_id=account.id,
            changes=changes,
            unsuspend=account.suspended,
            patch=planning.patch_body(changes, account),
        )
    )
    _plan_aliases(planning, user, account)


def _plan_update(planning: _Planning, user: WantedUser, account: GoogleUser, link: Link) -> None:
    changes = planning.field_changes(user, account)
    if changes and _email_taken(planning, user.email, account):
        planning.warn(
            NoticeCode.RENAME_BLOCKED,
            user.source.uid,
            f"not renamed: {user.email} already belongs to another Google account; free that address first",
        )
        changes = tuple(change for change in changes if change.field != "primaryEmail")
    if changes:
        planning.changes.append(
            UpdateUser(
                uuid=user.uuid,
                email=user.email,
                google_id=account.id,
                changes=changes,
                patch=planning.patch_body(changes, account),
            )
        )
    _plan_aliases(planning, user, account)
    if account.suspended and link.suspended_by_us:
        planning.changes.append(UnsuspendUser(uuid=user.uuid, email=user.email, google_id=account.id))
        offboarding.plan_comeback(planning, user.uuid, account, planning.org_unit(user.source) is not None)
    elif account.suspended:
        planning.warn(
            NoticeCode.SUSPENDED_IN_GOOGLE,
            user.source.uid,
            f"{account.primary_email} was suspended in Google by someone else and is left suspended; "
            "unsuspend it in the Google Admin console if it should be active",
        )


def _report_members_left_out(planning: _Planning, group: DirectoryGroup) -> None:
    """One notice per reason a member is not in Google, each with the advice that fits that reason."""
    users = {user.uid: user for user in planning.desired.users}
    reasons: dict[NoticeCode, list[str]] = {}
    for uid in sorted(group.member_uids):
        if uid in planning.synced_emails:
            continue
        user = users.get(uid)
        if user is None:
            code = NoticeCode.MEMBERS_UNKNOWN
        elif user.locked:
            code = NoticeCode.MEMBERS_LOCKED
        elif user.in_scope:
            code = NoticeCode.MEMBERS_SKIPPED
        else:
            code = NoticeCode.MEMBERS_NOT_IN_SCOPE
        reasons.setdefault(code, []).append(uid)
    if group.unknown_member_dns:
        reasons.setdefault(NoticeCode.MEMBERS_UNKNOWN, [])
    for code, uids in reasons.items():
        names = ", ".join(uids)
        if code is NoticeCode.MEMBERS_LOCKED:
            planning.warn(
                code,
                group.name,
                f"{len(uids)} member(s) locked, left out of the group: {names}; each is {LOCKED_ADVICE}",
            )
        elif code is NoticeCode.MEMBERS_NOT_IN_SCOPE:
            planning.warn(
                code,
                group.name,
                f"{len(uids)} member(s) not synchronized to Google, left out of the group: {names} "
                "(turn on their Google Apps option, or set [sync] create_missing_members = yes)",
            )
        elif code is NoticeCode.MEMBERS_SKIPPED:
            planning.warn(
                code,
                group.name,
                f"{len(uids)} member(s) skipped, their membership left as it is in Google: {names} (see the warning on each)",
            )
        else:
            planning.info(code, group.name, _unknown_members(uids, group.unknown_member_dns))


def _unknown_members(uids: list[str], dns: tuple[str, ...]) -> str:
    parts = []
    if uids:
        parts.append(
            f"{len(uids)} member(s) left out of the group: {', '.join(uids)}: no user to synchronize has that uid (absent, or reserved like winadmin)"
        )
    if dns:
        parts.append(
            f"{len(dns)} member DN(s) left out of the group: {'; '.join(dns)}: no such entry, or not a user under [ldap] users_dn "
            "matching user_filter; remove the member or correct its DN"
        )
    return "; ".join(parts)


def _unwanted_reason(user: DirectoryUser, settings: Settings) -> str:
    if user.locked:
        return "locked in the directory"
    sources = settings.sources
    if sources.uses_switch and not (sources.subtrees or sources.member_groups or sources.exclusion_groups):
        return f"no longer in the {settings.ldap.enabled_group} group (Google Apps switched off)"
    return "no longer included by [sources] (not in a source subtree or group, or in an exclude group)"


def _plan_unwanted_users(planning: _Planning) -> None:
    """Managed accounts whose directory user left, lost its switch, or is locked."""
    present = {user.uuid: user for user in planning.desired.users}
    for link in planning.links.links:
        if link.kind != "user" or link.google_id in planning.claimed or not planning.in_user_scope(link.uuid):
            continue
        account = planning.google_by_id.get(link.google_id)
        if account is None:
            continue
        planning.claimed.add(account.id)
        user = present.get(link.uuid)
        if user is not None and user.in_scope and not user.locked:
            continue  # skipped by validation; already reported
        if planning.settings.sources.pilot and (user is None or not user.in_pilot):
            continue  # a pilot changes nobody outside it, not even who left the directory
        reason = _unwanted_reason(user, planning.settings) if user else "removed from the directory"
        _plan_suspend(planning, account, link.uuid, reason)
    _plan_unlinked_unwanted(planning)


def _plan_unlinked_unwanted(planning: _Planning) -> None:
    """Accounts we never managed that carry the address of a directory user who is not synchronized.

    They are suspended only when the administrator asked to mirror the directory.
    """
    mirror = planning.settings.sync.unmanaged_accounts == "suspend"
    for user in planning.desired.users:
        if (user.in_scope and not user.locked) or not planning.in_user_scope(user.uuid) or not user.in_pilot:
            continue
        account = planning.google_by_email.get(user_email(user, planning.domain))
        if account is None or account.id in planning.claimed or planning.is_protected(account):
            continue
        planning.claimed.add(account.id)
        reason = _unwanted_reason(user, planning.settings)
        if mirror:
            _plan_suspend(planning, account, user.uuid, reason)
        elif not account.suspended:
            planning.info(
                NoticeCode.NOT_MANAGED,
                account.primary_email,
                f"not managed by this tool and {user.uid} is {reason}; left as it is",
            )


def _plan_suspend(planning: _Planning, account: GoogleUser, uuid: str, reason: str) -> None:
    if account.suspended:
        return
    if planning.is_protected(account):
        planning.warn(
            NoticeCode.ADMIN_PROTECTED,
            account.primary_email,
            f"The Google Apps administrator account {account.primary_email} cannot be suspended ({reason}); "
            "it is left active. Remove its administrator role in Google first if it really must go.",
        )
        return
    planning.changes.append(SuspendUser(uuid=uuid, email=account.primary_email, google_id=account.id, reason=reason))


def _plan_unmanaged_accounts(planning: _Planning) -> None:
    mirror = planning.settings.sync.unmanaged_accounts == "suspend"
    for account in planning.existing.users:
        if account.id in planning.claimed or planning.is_protected(account):
            continue
        if mirror:
            _plan_suspend(planning, account, "", "no matching directory user (unmanaged_accounts = suspend)")
        elif not account.suspended:
            planning.info(
                NoticeCode.GOOGLE_ONLY,
                account.primary_email,
                "exists only in Google; left as it is (unmanaged_accounts = ignore)",
            )


def _warn_unowned_admins(planning: _Planning) -> None:
    locked = {user_email(user, planning.domain): user for user in planning.desired.users if user.locked}
    for account in planning.existing.users:
        if not planning.is_protected(account) or account.id in planning.claimed:
            continue
        local = locked.get(account.primary_email)
        if local is not None:  # switching its Google Apps option on would not help: the account is locked
            planning.warn(
                NoticeCode.ADMIN_LOCAL_USER_LOCKED,
                account.primary_email,
                f"The Google Apps administrator account {account.primary_email} is left active although its local user "
                f"'{local.uid}' is {LOCKED_ADVICE}",
            )
            continue
        planning.warn(
            NoticeCode.ADMIN_WITHOUT_LOCAL_USER,
            account.primary_email,
            f"The Google Apps administrator account {account.primary_email} cannot be suspended and has no local account with the Google Apps option: "
            f"create the local user '{account.primary_email.partition('@')[0]}' (or edit it) with the Google Apps option enabled, then test again",
        )


def _plan_org_units(planning: _Planning) -> None:
    """Create the org units (and their parents) that users are about to be placed in."""
    if planning.existing.org_units is None:
        return
    wanted = {c.new for change in planning.changes for c in getattr(change, "changes", ()) if c.field == "orgUnitPath"}
    missing = set()
    for path in wanted:
        parts = path.strip("/").split("/")
        missing |= {"/" + "/".join(parts[:depth]) for depth in range(1, len(parts) + 1)}
    for path in sorted(missing - planning.existing.org_units - {"/"}):
        planning.changes.append(CreateOrgUnit(path=path))


# -- groups --------------------------------------------------------------------


def selected_groups(groups: tuple[DirectoryGroup, ...], settings: Settings) -> list[DirectoryGroup]:
    """The directory groups that go to Google: the chosen ones ([sync] groups, the source groups with method =
    source_groups, the target group), less exclusions and reserved names."""
    sync = settings.sync
    from_sources = source_group_names(groups, settings)
    selected = []
    for group in groups:
        if group.uuid.startswith(TARGET_GROUP_UUID):
            selected.append(group)
            continue
        if is_reserved_group(group.name, settings.ldap.enabled_group):
            continue
        chosen = "*" in sync.groups or group.name in sync.groups or group.name.lower() in from_sources
        if chosen and group.name not in sync.exclude_groups:
            selected.append(group)
    return selected


def source_group_names(groups: tuple[DirectoryGroup, ...], settings: Settings) -> frozenset[str]:
    """With method = source_groups: the source groups and those nested in them (lower case), mirrored as in the directory."""
    sources = settings.sources
    if sources.method != "source_groups":
        return frozenset()
    nested = {group.name.lower(): {name.lower() for name in group.member_groups} for group in groups}
    seen, stack = set(), [name.lower() for name in sources.member_groups]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(nested.get(name, ()))
    return frozenset(seen)


TARGET_GROUP_UUID = "target-group:"  # the target group is no directory entry: its link is keyed by its address


def with_target_group(desired: DirectoryState, settings: Settings) -> DirectoryState:
    """With method = target_group: one more group to synchronize, whose members are every user in scope, so it is
    created, adopted and kept exactly in step by the same planning as any directory group."""
    address = settings.sources.target_address(settings.google.address_domain)
    if not address:
        return desired
    members = frozenset(user.uid for user in desired.users if user.in_scope and user.in_pilot and not user.locked)
    # Keyed by a digest of its address (links hold 64 characters): another address is another group.
    uuid = TARGET_GROUP_UUID + hashlib.sha256(address.encode()).hexdigest()[:40]
    group = DirectoryGroup(
        uuid=uuid,
        dn="",
        name=address.partition("@")[0],
        mail=address,
        description="Every user google-sync synchronizes ([sources] target_group)",
        member_uids=members,
    )
    return replace(desired, groups=(*desired.groups, group))


def group_email(group: DirectoryGroup, domain: str) -> str:
    return (group.mail or f"{group.name}@{domain}").strip().lower()


def _group_problem(planning: _Planning, group: DirectoryGroup, email: str) -> str:
    problem = email_problem(email, planning.domain, planning.domains, planning.existing.unverified_domains)
    if not problem and len(group.name) > MAX_GROUP_NAME_LENGTH:
        problem = f"name is {len(group.name)} characters long; Google allows at most {MAX_GROUP_NAME_LENGTH}"
    if not problem and email in planning.google_by_email:
        problem = f"{email} is a user's address in Google; rename the group"
    return problem


def _plan_groups(planning: _Planning) -> None:
    group_links = planning.links.by_uuid("group")
    google_groups = {group.id: group for group in planning.existing.groups}
    google_by_email = {group.email: group for group in planning.existing.groups}
    valid = []
    for group in selected_groups(planning.desired.groups, planning.settings):
        email = group_email(group, planning.domain)
        problem = _group_problem(planning, group, email)
        if problem:
            planning.warn(NoticeCode.GROUP_INVALID, group.name, f"group skipped: {problem}")
        else:
            valid.append((group, email))
    planning.group_emails = {group.name: email for group, email in valid}
    for group, email in valid:  # nested groups are members too: known by id where Google has them
        link = group_links.get(group.uuid)
        known = google_groups.get(link.google_id) if link else google_by_email.get(email)
        if known:
            planning.google_ids[email] = known.id
    planning.cyclic = _cyclic_nestings(planning, [group for group, _ in valid])
    for group, email in valid:
        if not planning.in_group_scope(group.uuid):
            continue
        link = group_links.get(group.uuid)
        existing = google_groups.get(link.google_id) if link else None
        _plan_group(planning, group, email, existing or google_by_email.get(email), linked=existing is not None)
    seen_uuids = {group.uuid for group, _ in valid}
    for link in group_links.values():
        if link.uuid not in seen_uuids and link.google_id in google_groups and planning.in_group_scope(link.uuid):
            planning.warn(
                NoticeCode.GROUP_UNSYNCHRONIZED,
                link.email,
                "group no longer synchronized (removed from the directory or the selection); left in Google as it is, members frozen",
            )


def _cyclic_nestings(planning: _Planning, groups: list[DirectoryGroup]) -> set[tuple[str, str]]:
    """Nestings (parent, child) that lie on a cycle: Google refuses them, so they are reported, not pushed."""
    children = {group.name: {name for name in group.member_groups if name in planning.group_emails} for group in groups}

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            name = stack.pop()
            if name == goal:
                return True
            if name not in seen:
                seen.add(name)
                stack.extend(children.get(name, ()))
        return False

    cyclic = {(parent, child) for parent, kids in children.items() for child in kids if reaches(child, parent)}
    for parent, child in sorted(cyclic):
        planning.warn(
            NoticeCode.NESTED_CYCLE,
            parent,
            f"nested group {child} leads back to {parent}: a cycle Google does not allow; this nesting is not pushed",
        )
    return cyclic


def _plan_group(
    planning: _Planning, group: DirectoryGroup, email: str, existing: GoogleGroup | None, linked: bool
) -> None:
    wanted_members = _wanted_members(planning, group)
    if existing is None:
        planning.changes.append(
            CreateGroup(uuid=group.uuid, email=email, name=group.name, description=group.description)
        )
        current_members: dict[str, str] = {}
    else:
        changes = _group_field_changes(group, email, existing)
        kind = UpdateGroup if linked else AdoptGroup
        if changes or not linked:
            planning.changes.append(kind(uuid=group.uuid, email=email, google_id=existing.id, changes=changes))
        current_members = existing.current_members
    planning.group_members[email] = (group.uuid, len(current_members))
    _plan_membership(planning, email, wanted_members, current_members)
    _plan_posting(planning, group, email, planning.links.by_uuid("group").get(group.uuid) if linked else None)


def _plan_membership(planning: _Planning, email: str, wanted: frozenset[str], current: dict[str, str]) -> None:
    """Members added and removed as differences, compared by Google id wherever it is known.

    After a rename Google lists the member under its new address while the directory may still name
    it by the old one (an alias of the same account), or the reverse: an id never confuses the two,
    so a rename never plans an add and a remove of the same account.
    """
    current_ids = {member_id for member_id in current.values() if member_id}
    wanted_ids = {planning.google_ids[member] for member in wanted if planning.google_ids.get(member)}
    for member in sorted(wanted):
        if member not in current and planning.google_ids.get(member) not in current_ids:
            planning.changes.append(AddMember(group_email=email, member_email=member))
    for member, member_id in sorted(current.items()):
        if member in wanted or (member_id and member_id in wanted_ids):
            continue
        account = planning.google_by_email.get(member)
        if (member_id or (account.id if account else "")) in planning.protected:
            continue  # a skipped user's account is left as it is, its groups included: a typo must cost no membership
        if member.rpartition("@")[2] in planning.alias_domains:  # external members are not ours to remove
            planning.changes.append(RemoveMember(group_email=email, member_email=member, member_id=member_id))


def _plan_posting(planning: _Planning, group: DirectoryGroup, email: str, link: Link | None) -> None:
    """Apply the posting policy when it differs from the one we last applied (edits in Google are not fought)."""
    sync = planning.settings.sync
    policy = dict(sync.posting_overrides).get(group.name.lower(), sync.posting_policy)
    previous = link.posting_policy if link else ""
    if policy and policy != previous:
        planning.changes.append(SetPostingPolicy(uuid=group.uuid, email=email, policy=policy, previous=previous))


def _plan_new_memberships(planning: _Planning) -> None:
    """In a targeted user push, a user who becomes active joins those of its groups that Google has."""
    if planning.scope is None:
        return  # a full run plans every group whole
    joining = {c.email for c in planning.changes if isinstance(c, (CreateUser, AdoptUser, UnsuspendUser))}
    known = {group.email for group in planning.existing.groups} | {
        link.email for link in planning.links.links if link.kind == "group"
    }
    for group in selected_groups(planning.desired.groups, planning.settings):
        if planning.in_group_scope(group.uuid):
            continue
        email = group_email(group, planning.domain)
        for uid in sorted(group.member_uids):
            member = planning.synced_emails.get(uid)
            if member not in joining:
                continue
            if email in known:
                planning.changes.append(AddMember(group_email=email, member_email=member))
            else:
                planning.info(
                    NoticeCode.GROUP_NOT_IN_GOOGLE_YET,
                    group.name,
                    f"not in Google yet; the next full synchronization creates it with {uid}",
                )


def _group_field_changes(group: DirectoryGroup, email: str, existing: GoogleGroup) -> tuple[FieldChange, ...]:
    pairs = (
        ("email", existing.email, email),
        ("name", existing.name, group.name),
        ("description", existing.description, group.description),
    )
    return tuple(FieldChange(name, old, new) for name, old, new in pairs if old != new)


def _wanted_members(planning: _Planning, group: DirectoryGroup) -> frozenset[str]:
    """Synchronized users, and nested groups that are synchronized too (Google members of type GROUP)."""
    members = {planning.synced_emails[uid] for uid in group.member_uids if uid in planning.synced_emails}
    _report_members_left_out(planning, group)
    for name in sorted(group.member_groups):
        if (group.name, name) in planning.cyclic:
            continue
        if name in planning.group_emails:
            members.add(planning.group_emails[name])
        else:
            planning.info(
                NoticeCode.NESTED_NOT_SYNCHRONIZED,
                group.name,
                f"nested group {name} is not synchronized; left out of the group",
            )
    return frozenset(members)
