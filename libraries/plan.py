"""The plan: small typed changes, notices, safety limits, and the ways to show them.

A plan sorts deterministically (phase, then action, then object), so the same
inputs always give the same text, JSON and checksum; "apply what I previewed"
compares checksums.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import ClassVar

from .errors import UnsafePlan
from .model import Link, PasswordHash

# Google needs org units before users go in them, users before it can add them to
# groups, and groups before members: the executor applies one phase after the
# other, each in batches. Org units take one phase per depth (parents first).
PHASE_ORG_UNITS, PHASE_USERS, PHASE_GROUPS, PHASE_MEMBERS = 0, 1, 2, 3


# The fields every new account is given from its own attributes; CreateUser.extra holds the others.
ADDRESS_AND_NAME = ("primaryEmail", "givenName", "familyName")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.field}: {self.old!r} → {self.new!r}"


@dataclass(frozen=True)
class Change:
    """One thing to do in Google. Subclasses say which, in what phase and order."""

    action: ClassVar[str] = ""
    phase: ClassVar[int] = PHASE_USERS
    order: ClassVar[int] = 0
    writes: ClassVar[bool] = True  # False for changes that only touch local state
    api: ClassVar[str] = "directory"  # batches never mix APIs

    @property
    def subject(self) -> str:
        raise NotImplementedError

    @property
    def sort_key(self) -> tuple:
        return (self.phase, self.order, self.subject)

    @property
    def data(self) -> dict:
        """A stable, JSON-able description: no ids that change between runs, no secrets."""
        return {"action": self.action, "object": self.subject, **self._details()}

    def _details(self) -> dict:
        return {}

    def describe(self) -> str:
        return ""

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        """The link of this change's object once Google applied it; None when it touches no link."""
        return None

    @property
    def proof(self) -> dict | None:
        """What a read of Google shows once this change took effect ({"read": "user"|"group", "key": …,
        "expect": {field: value}}), so a change whose answer was lost can be confirmed later. None: not
        visible in a read (a password), so an unanswered one is planned again."""
        return None


def _link(change, kind: str, previous: Link | None, google_id: str, **effects) -> Link | None:
    """A change's link: what the previous one said, with this change's effects."""
    if not change.uuid:
        return None
    kept = dict(
        suspended_by_us=bool(previous and previous.suspended_by_us),
        created_by_us=bool(previous and previous.created_by_us),
        password_fingerprint=previous.password_fingerprint if previous else "",
        posting_policy=previous.posting_policy if previous else "",
    )
    google_id = google_id or (previous.google_id if previous else "")
    return Link(kind=kind, uuid=change.uuid, google_id=google_id, email=change.email, **{**kept, **effects})


@dataclass(frozen=True)
class CreateOrgUnit(Change):
    action: ClassVar[str] = "create org unit"
    path: str = ""

    @property
    def phase(self) -> float:  # type: ignore[override]
        return PHASE_ORG_UNITS + self.path.count("/") / 100

    @property
    def subject(self) -> str:
        return self.path

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def parent(self) -> str:
        return self.path.rsplit("/", 1)[0] or "/"


@dataclass(frozen=True)
class UserChange(Change):
    uuid: str
    email: str

    @property
    def subject(self) -> str:
        return self.email

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id)


def password_source(password: PasswordHash | None, captured: bool = False) -> str:
    if password is None:
        return "random (no syncable password in the directory)"
    return f"{password.hash_function} hash " + ("captured when it was set" if captured else "from the directory")


@dataclass(frozen=True)
class CreateUser(UserChange):
    action: ClassVar[str] = "create user"
    order: ClassVar[int] = 1
    given_name: str = ""
    family_name: str = ""
    password: PasswordHash | None = field(default=None, repr=False)
    fingerprint: str = field(default="", repr=False, compare=False)  # recorded once pushed
    extra: tuple[FieldChange, ...] = ()  # the mapped fields and org unit it starts with, beyond its address and name

    @property
    def changes(self) -> tuple[FieldChange, ...]:
        """Every field the account starts with. Built when asked, not kept: a first synchronization of 100,000
        users holds only what differs from one user to the next."""
        own = (FieldChange("primaryEmail", "", self.email), FieldChange("givenName", "", self.given_name), FieldChange("familyName", "", self.family_name))
        return tuple(change for change in own if change.new) + self.extra

    def _details(self) -> dict:
        return {"given_name": self.given_name, "family_name": self.family_name, "password": password_source(self.password), **self.extra_fields}

    @property
    def extra_fields(self) -> dict[str, str]:
        return {change.field: change.new for change in self.extra}

    def describe(self) -> str:
        extras = "".join(f", {name}: {value}" for name, value in self.extra_fields.items())
        return f"{self.given_name} {self.family_name}, password: {password_source(self.password)}{extras}"

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, created_by_us=True, suspended_by_us=False, password_fingerprint=self.fingerprint)

    @property
    def proof(self) -> dict | None:
        return {"read": "user", "key": self.email, "expect": {}}


@dataclass(frozen=True)
class LinkedUserChange(UserChange):
    google_id: str = ""

    @property
    def proof(self) -> dict | None:
        return {"read": "user", "key": self.google_id, "expect": self._visible_effect()}

    def _visible_effect(self) -> dict:
        return {"primaryEmail": self.email}


class FieldChanges:
    """Shows a change's ``changes`` (old → new per field); an adoption may have none."""

    changes: tuple[FieldChange, ...]

    @property
    def writes(self) -> bool:
        return bool(self.changes)

    def _details(self) -> dict:
        return {"changes": [vars(c) for c in self.changes]}

    def describe(self) -> str:
        return "; ".join(str(c) for c in self.changes) or "link only, nothing to change"


@dataclass(frozen=True)
class AdoptUser(FieldChanges, LinkedUserChange):
    """An account already in Google with this user's address: take it over."""

    action: ClassVar[str] = "adopt user"
    order: ClassVar[int] = 2
    changes: tuple[FieldChange, ...] = ()
    unsuspend: bool = False
    patch: dict = field(default_factory=dict, repr=False, compare=False)  # users.patch body for the changes

    @property
    def writes(self) -> bool:
        return bool(self.changes or self.unsuspend)

    def _details(self) -> dict:
        return {**super()._details(), "unsuspend": self.unsuspend}

    def describe(self) -> str:
        return "; ".join([str(c) for c in self.changes] + (["unsuspend"] if self.unsuspend else [])) or super().describe()

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, suspended_by_us=False)

    def _visible_effect(self) -> dict:
        return {"primaryEmail": self.email, **({"suspended": False} if self.unsuspend else {})}


@dataclass(frozen=True)
class UpdateUser(FieldChanges, LinkedUserChange):
    action: ClassVar[str] = "update user"
    order: ClassVar[int] = 3
    changes: tuple[FieldChange, ...] = ()
    patch: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class SetPassword(LinkedUserChange):
    action: ClassVar[str] = "set password"
    order: ClassVar[int] = 4
    password: PasswordHash | None = field(default=None, repr=False)
    captured: bool = False
    fingerprint: str = field(default="", repr=False, compare=False)

    def _details(self) -> dict:
        return {"password": password_source(self.password, self.captured)}

    def describe(self) -> str:
        return password_source(self.password, self.captured)

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, password_fingerprint=self.fingerprint)

    @property
    def proof(self) -> dict | None:
        return None  # Google never shows a password: an unanswered one is pushed again


@dataclass(frozen=True)
class UnsuspendUser(LinkedUserChange):
    action: ClassVar[str] = "unsuspend user"
    order: ClassVar[int] = 5

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, suspended_by_us=False)

    def _visible_effect(self) -> dict:
        return {"suspended": False}


@dataclass(frozen=True)
class SuspendUser(LinkedUserChange):
    action: ClassVar[str] = "suspend user"
    order: ClassVar[int] = 6
    reason: str = ""

    def _details(self) -> dict:
        return {"reason": self.reason}

    def describe(self) -> str:
        return self.reason

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, suspended_by_us=True)

    def _visible_effect(self) -> dict:
        return {"suspended": True}


@dataclass(frozen=True)
class AddAlias(UserChange):
    """A directory mail alias in the domain. In the groups phase: the user must exist first."""

    action: ClassVar[str] = "add alias"
    phase: ClassVar[int] = PHASE_GROUPS
    order: ClassVar[int] = 0
    alias: str = ""

    @property
    def subject(self) -> str:
        return f"{self.email} ← {self.alias}"

    def _details(self) -> dict:
        return {"alias": self.alias}

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return None


@dataclass(frozen=True)
class GroupChange(Change):
    phase: ClassVar[int] = PHASE_GROUPS
    uuid: str
    email: str

    @property
    def subject(self) -> str:
        return self.email

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "group", previous, google_id)

    @property
    def proof(self) -> dict | None:
        return {"read": "group", "key": getattr(self, "google_id", "") or self.email, "expect": {"email": self.email}}


@dataclass(frozen=True)
class CreateGroup(GroupChange):
    action: ClassVar[str] = "create group"
    order: ClassVar[int] = 1
    name: str = ""
    description: str = ""

    def _details(self) -> dict:
        return {"name": self.name, "description": self.description}

    def describe(self) -> str:
        return self.name

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "group", previous, google_id, created_by_us=True)


@dataclass(frozen=True)
class AdoptGroup(FieldChanges, GroupChange):
    action: ClassVar[str] = "adopt group"
    order: ClassVar[int] = 2
    google_id: str = ""
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class UpdateGroup(FieldChanges, GroupChange):
    action: ClassVar[str] = "update group"
    order: ClassVar[int] = 3
    google_id: str = ""
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class DeleteGroup(GroupChange):
    """Never planned: only an administrator's explicit, confirmed request makes one (see SyncEngine.delete_group)."""

    action: ClassVar[str] = "delete group"
    order: ClassVar[int] = 9
    google_id: str = ""

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return None  # the engine drops the link once the group is gone

    @property
    def proof(self) -> dict | None:
        return None


# Who may post, in the Groups Settings API's terms. For posting from outside, Google recommends
# moderating non-members' messages to keep spam out.
POSTING_SETTINGS = {
    "members": {"whoCanPostMessage": "ALL_MEMBERS_CAN_POST", "messageModerationLevel": "MODERATE_NONE"},
    "domain": {"whoCanPostMessage": "ALL_IN_DOMAIN_CAN_POST", "messageModerationLevel": "MODERATE_NONE"},
    "anyone": {"whoCanPostMessage": "ANYONE_CAN_POST", "messageModerationLevel": "MODERATE_NON_MEMBERS"},
}


@dataclass(frozen=True)
class SetPostingPolicy(GroupChange):
    """Groups Settings API: a separate API, so its own batches, after the group exists."""

    action: ClassVar[str] = "set posting"
    phase: ClassVar[int] = PHASE_MEMBERS
    order: ClassVar[int] = 3
    api: ClassVar[str] = "groupssettings"
    policy: str = ""
    previous: str = ""

    def _details(self) -> dict:
        return {"policy": self.policy, "previous": self.previous}

    def describe(self) -> str:
        return f"{self.previous or 'as Google has it'} → {self.policy} ({POSTING_SETTINGS[self.policy]['whoCanPostMessage']})"

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return replace(previous, posting_policy=self.policy) if previous else None

    @property
    def proof(self) -> dict | None:
        return None  # another API's setting: an unanswered one is applied again (it is idempotent)


@dataclass(frozen=True)
class MemberChange(Change):
    phase: ClassVar[int] = PHASE_MEMBERS
    group_email: str
    member_email: str
    # Google's id of the member when known. After a rename the old address is an alias of the same
    # account and Google resolves aliases in memberKey: only the id names exactly one member.
    member_id: str = field(default="", compare=False)

    @property
    def subject(self) -> str:
        return f"{self.group_email} ← {self.member_email}"

    @property
    def member_key(self) -> str:
        return self.member_id or self.member_email

    def _details(self) -> dict:
        return {"group": self.group_email, "member": self.member_email}


@dataclass(frozen=True)
class AddMember(MemberChange):
    action: ClassVar[str] = "add member"
    order: ClassVar[int] = 1


@dataclass(frozen=True)
class RemoveMember(MemberChange):
    action: ClassVar[str] = "remove member"
    order: ClassVar[int] = 2


@dataclass(frozen=True)
class Notice:
    """Something the administrator should read: a skipped object, a protected account."""

    level: str  # "warning" or "info"
    subject: str
    message: str

    @property
    def data(self) -> dict:
        return {"level": self.level, "object": self.subject, "message": self.message}


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    notices: tuple[Notice, ...] = ()
    refusals: tuple[str, ...] = ()  # safety limits this plan breaks

    def __post_init__(self):
        object.__setattr__(self, "changes", tuple(sorted(self.changes, key=lambda c: c.sort_key)))
        object.__setattr__(self, "notices", tuple(sorted(set(self.notices), key=lambda n: (n.level != "warning", n.subject, n.message))))

    @property
    def in_sync(self) -> bool:
        return not self.changes

    @property
    def write_count(self) -> int:
        return sum(1 for change in self.changes if change.writes)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.action] = counts.get(change.action, 0) + 1
        return counts

    def of_type(self, kind: type) -> list:
        return [change for change in self.changes if isinstance(change, kind)]

    @property
    def checksum(self) -> str:
        payload = json.dumps([change.data for change in self.changes], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def raise_if_unsafe(self, force: bool = False) -> None:
        if self.refusals and not force:
            raise UnsafePlan("; ".join(self.refusals))

    @property
    def data(self) -> dict:
        return {
            "in_sync": self.in_sync,
            "checksum": self.checksum,
            "counts": self.counts(),
            "changes": [change.data for change in self.changes],
            "notices": [notice.data for notice in self.notices],
            "refused": list(self.refusals),
        }


def render_json(plan: Plan) -> str:
    return json.dumps(plan.data, indent=2, ensure_ascii=False)


def render_text(plan: Plan) -> str:
    lines = []
    for change in plan.changes:
        detail = change.describe()
        lines.append(f"  {change.action:<15} {change.subject}" + (f"  ({detail})" if detail else ""))
    if not lines:
        lines.append("  Google is already in step with the directory: nothing to change.")
    for notice in plan.notices:
        lines.append(f"  {notice.level.upper() + ':':<15} {notice.subject}: {notice.message}")
    summary = ", ".join(f"{count} {action}" for action, count in sorted(plan.counts().items())) or "no changes"
    lines.append(f"Plan {plan.checksum}: {summary}.")
    for refusal in plan.refusals:
        lines.append(f"REFUSED: {refusal}")
    return "\n".join(lines)
