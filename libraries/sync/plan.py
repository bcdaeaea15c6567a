"""The plan: small typed changes, notices, safety limits, and the ways to show them.

A plan sorts deterministically (phase, then action, then object), so the same
inputs always give the same text, JSON and checksum; "apply what I previewed"
compares checksums.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Protocol, TypeVar

from ..core import passwords
from ..core.errors import UnsafePlan
from ..core.model import FieldChange, Link, PasswordHash
from ..google.answers import ErrorKind, TargetError
from . import photos
from .json_output import lazy_list
from .user_fields import patch_body

Json = dict[str, Any]  # a JSON-able mapping: a record, a request body, a proof
C = TypeVar("C", bound="Change")

# Google needs org units before users go in them, users before it can add them to
# groups, and groups before members: the executor applies one phase after the
# other, each in batches. Org units take one phase per depth (parents first).
PHASE_ORG_UNITS, PHASE_USERS, PHASE_GROUPS, PHASE_MEMBERS = 0, 1, 2, 3
# A leaver's sign-out, revocations, hiding and move go before its suspension, in a phase of their own (a batch runs
# its parts in any order): some account-security calls refuse a suspended user.
PHASE_LEAVING = 0.5


# The fields every new account is given from its own attributes; CreateUser.extra holds the others.
ADDRESS_AND_NAME = ("primaryEmail", "givenName", "familyName")


class Api(Protocol):
    """What a change builds its request from: Google's API resources (building a request sends nothing)."""

    users: Any
    tokens: Any
    asps: Any
    aliases: Any
    photos: Any
    groups: Any
    members: Any
    orgunits: Any
    group_settings: Any
    licenses: Any

    @property
    def change_password_at_next_login(self) -> bool:  # for accounts created with a random password
        ...


def password_body(password: PasswordHash) -> Json:
    return {"password": password.value, "hashFunction": password.hash_function}


@dataclass(frozen=True)
class Adoption:
    """A create that met an existing object takes it over in two batched steps: ``read`` it, then the request
    ``take_over`` builds from what was read (with its journal proof and the result's note)."""

    read: Any
    take_over: Callable[[Json], tuple[Any, Json, str]]


# Never part of a change's record: password material, and request bodies rebuilt from the fields.
UNRECORDED = frozenset({"password", "fingerprint", "schemas", "patch", "photo"})
FIELD_LISTS = frozenset({"changes", "extra"})  # fields holding FieldChanges
CHANGE_TYPES: dict[str, type[Change]] = {}


@dataclass(frozen=True)
class Change:
    """One thing to do in Google. Subclasses say which, in what phase and order, what it does to the links,
    how to confirm it took effect, and how to undo it."""

    action: ClassVar[str] = ""
    phase: ClassVar[float] = PHASE_USERS
    order: ClassVar[int] = 0
    api: ClassVar[str] = "directory"  # batches never mix APIs
    follows_suspension: ClassVar[bool] = False  # an [offboarding] step: held, confirmed and counted with its suspension

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        CHANGE_TYPES[cls.__name__] = cls

    @property
    def writes(self) -> bool:
        """False for a change that writes nothing to Google (a link only)."""
        return True

    @property
    def record(self) -> Json:
        """Everything needed to rebuild this change later (ids and previous values included, secrets never):
        stored with its result, so a run can be undone."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in UNRECORDED}
        for name in FIELD_LISTS & values.keys():
            values[name] = [vars(change) for change in values[name]]
        return {"type": type(self).__name__, **values}

    @staticmethod
    def from_record(record: Json) -> Change:
        values = {name: value for name, value in record.items() if name != "type"}
        for name in FIELD_LISTS & values.keys():
            values[name] = tuple(FieldChange(**change) for change in values[name])
        return CHANGE_TYPES[record["type"]](**values)

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        """The changes that undo this one once applied (``google_id``: the object it applied to), or why it cannot be undone."""
        return f"{self.action} cannot be undone"

    # -- how it is sent, and what Google's answers mean ------------------------------------------

    def request(self, api: Api) -> Any:
        """The request that makes this change (an HttpRequest, built, not sent); None when there is nothing to send."""
        raise NotImplementedError(f"no request for {self!r}")

    def already_done(self, error: TargetError) -> str:
        """What this error says when it means the change already holds in Google (an idempotent success); "" otherwise."""
        return ""

    def refused(self, error: TargetError) -> str:
        """This change's own words for an error no retry can cure (a final failure); "" to use the usual handling."""
        return ""

    def recheck(self, api: Api, error: TargetError) -> Any:
        """A read that tells whether this change holds in Google after all, when ``error`` may mean that it does
        (a success when the read succeeds; the error stands when it fails); None when the error is plain."""
        return None

    def on_conflict(self, api: Api, ours: bool) -> Adoption | None:
        """How to take over the object when Google says it exists already (a create's 409); None: the error stands.
        ``ours``: an earlier attempt of this run whose answer was lost may be what created it."""
        return None

    @property
    def awaits(self) -> frozenset[str]:
        """Addresses the request names that Google may not know yet when this run created or renamed them
        (its eventual consistency): a 404 for one of those is retried for a while."""
        return frozenset()

    @property
    def introduces(self) -> str:
        """The address this change creates or renames to ("" when none): for a while other calls may not see it."""
        return ""

    @property
    def subject(self) -> str:
        raise NotImplementedError

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.phase, self.order, self.subject)

    @property
    def data(self) -> Json:
        """A stable, JSON-able description: no ids that change between runs, no secrets."""
        return {"action": self.action, "object": self.subject, **self._details()}

    def _details(self) -> Json:
        return {}

    def describe(self) -> str:
        return ""

    @property
    def unsent_note(self) -> str:
        """The result's message when there is nothing to send (request() gave None)."""
        return "linked"

    def offboarding_fact(self) -> Json | None:
        """What the Leavers record keeps of this change once applied ({"step": words, column: value…}); None: nothing."""
        return None

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        """The link of this change's object once Google applied it; None when it touches no link."""
        return None

    @property
    def proof(self) -> Json | None:
        """What a read of Google shows once this change took effect ({"read": "user"|"group", "key": …,
        "expect": {field: value}}), so a change whose answer was lost can be confirmed later. None: not
        visible in a read (a password), so an unanswered one is planned again."""
        return None


class _Linked(Protocol):
    """A change whose object has a link: a directory entry (uuid) and its address in Google."""

    @property
    def uuid(self) -> str: ...

    @property
    def email(self) -> str: ...


def _link(change: _Linked, kind: str, previous: Link | None, google_id: str, **effects: Any) -> Link | None:
    """A change's link: what the previous one said, with this change's effects."""
    if not change.uuid:
        return None
    kept = dict(
        suspended_by_us=bool(previous and previous.suspended_by_us),
        created_by_us=bool(previous and previous.created_by_us),
        password_fingerprint=previous.password_fingerprint if previous else "",
        posting_policy=previous.posting_policy if previous else "",
        photo_fingerprint=previous.photo_fingerprint if previous else "",
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

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return f"org unit {self.path} is left in Google (it may hold other accounts)"

    def request(self, api: Api) -> Any:
        return api.orgunits.insert(
            customerId="my_customer", body={"name": self.name, "parentOrgUnitPath": self.parent}, fields="orgUnitPath"
        )

    def already_done(self, error: TargetError) -> str:
        return "already there" if error.kind is ErrorKind.CONFLICT else ""


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
    schemas: Json | None = field(
        default=None, repr=False, compare=False
    )  # customSchemas of those, when [custom_attributes] maps some

    @property
    def changes(self) -> tuple[FieldChange, ...]:
        """Every field the account starts with. Built when asked, not kept: a first synchronization of 100,000
        users holds only what differs from one user to the next."""
        own = (
            FieldChange("primaryEmail", "", self.email),
            FieldChange("givenName", "", self.given_name),
            FieldChange("familyName", "", self.family_name),
        )
        return tuple(change for change in own if change.new) + self.extra

    def _details(self) -> Json:
        return {
            "given_name": self.given_name,
            "family_name": self.family_name,
            "password": password_source(self.password),
            **self.extra_fields,
        }

    @property
    def extra_fields(self) -> dict[str, str]:
        return {change.field: change.new for change in self.extra}

    def describe(self) -> str:
        extras = "".join(f", {name}: {value}" for name, value in self.extra_fields.items())
        return f"{self.given_name} {self.family_name}, password: {password_source(self.password)}{extras}"

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(
            self,
            "user",
            previous,
            google_id,
            created_by_us=True,
            suspended_by_us=False,
            password_fingerprint=self.fingerprint,
        )

    @property
    def proof(self) -> Json | None:
        return {"read": "user", "key": self.email, "expect": {}}

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (
            SuspendUser(
                uuid=self.uuid,
                email=self.email,
                google_id=google_id,
                reason="created by the run undone (suspended, never deleted)",
            ),
        )

    def account_body(self) -> Json:
        """The account's fields as users.insert (or an adopting patch) sends them, less the password. Rebuilt when
        sent rather than kept in the plan: a first synchronization of 100,000 users holds only what differs."""
        return {**patch_body(self.changes, None), **({"customSchemas": self.schemas} if self.schemas else {})}

    def request(self, api: Api) -> Any:
        body = self.account_body()
        if self.password is None:
            body["password"] = passwords.random_password()
            body["changePasswordAtNextLogin"] = api.change_password_at_next_login
        else:
            body.update(password_body(self.password))
        return api.users.insert(body=body, fields="id")

    def on_conflict(self, api: Api, ours: bool) -> Adoption:
        """The address exists after all (created meanwhile, by an earlier attempt whose answer was lost, or
        suspended and unlisted): read it, then take it over, unsuspended, with this change's fields."""

        def take_over(existing: Json) -> tuple[Any, Json, str]:
            body = {**self.account_body(), "suspended": False}
            body.pop("primaryEmail", None)
            if self.password is not None:
                body.update(password_body(self.password))
            note = (
                "already existed (suspended): adopted and unsuspended"
                if existing.get("suspended")
                else "already existed: adopted"
            )
            proof = {"read": "user", "key": existing["id"], "expect": {"suspended": False}}
            return api.users.patch(userKey=existing["id"], body=body, fields="id"), proof, _adopted(note, ours)

        return Adoption(api.users.get(userKey=self.email, fields="id,suspended"), take_over)

    @property
    def introduces(self) -> str:
        return self.email


@dataclass(frozen=True)
class LinkedUserChange(UserChange):
    google_id: str = ""

    @property
    def proof(self) -> Json | None:
        return {"read": "user", "key": self.google_id, "expect": self._visible_effect()}

    def _visible_effect(self) -> Json:
        return {"primaryEmail": self.email}


class FieldChanges:
    """Shows a change's ``changes`` (old → new per field); an adoption may have none."""

    changes: tuple[FieldChange, ...]

    @property
    def writes(self) -> bool:
        return bool(self.changes)

    def _details(self) -> Json:
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
    patch: Json = field(default_factory=dict, repr=False, compare=False)  # users.patch body for the changes

    @property
    def writes(self) -> bool:
        return bool(self.changes or self.unsuspend)

    def _details(self) -> Json:
        return {**super()._details(), "unsuspend": self.unsuspend}

    def describe(self) -> str:
        return (
            "; ".join([str(c) for c in self.changes] + (["unsuspend"] if self.unsuspend else [])) or super().describe()
        )

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, suspended_by_us=False)

    def _visible_effect(self) -> Json:
        return {"primaryEmail": self.email, **({"suspended": False} if self.unsuspend else {})}

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        undo: list[Change] = [*_reverted_fields(UpdateUser, self)]
        if self.unsuspend:
            undo.append(
                SuspendUser(
                    uuid=self.uuid, email=self.email, google_id=self.google_id, reason="unsuspended by the run undone"
                )
            )
        return tuple(undo) or "it only linked the account: nothing to undo in Google"

    def request(self, api: Api) -> Any:
        body = {**self.patch, **({"suspended": False} if self.unsuspend else {})}
        return api.users.patch(userKey=self.google_id, body=body, fields="id") if body else None


@dataclass(frozen=True)
class UpdateUser(FieldChanges, LinkedUserChange):
    action: ClassVar[str] = "update user"
    order: ClassVar[int] = 3
    changes: tuple[FieldChange, ...] = ()
    patch: Json = field(default_factory=dict, repr=False, compare=False)

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return _reverted_fields(UpdateUser, self)

    def request(self, api: Api) -> Any:
        return api.users.patch(userKey=self.google_id, body=self.patch, fields="id")

    @property
    def introduces(self) -> str:
        return self.email if any(change.field == "primaryEmail" for change in self.changes) else ""


@dataclass(frozen=True)
class SetPassword(LinkedUserChange):
    action: ClassVar[str] = "set password"
    order: ClassVar[int] = 4
    password: PasswordHash | None = field(default=None, repr=False)
    captured: bool = False
    fingerprint: str = field(default="", repr=False, compare=False)

    def _details(self) -> Json:
        return {"password": password_source(self.password, self.captured)}

    def describe(self) -> str:
        return password_source(self.password, self.captured)

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, password_fingerprint=self.fingerprint)

    @property
    def proof(self) -> Json | None:
        return None  # Google never shows a password: an unanswered one is pushed again

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return "a password cannot be restored (Google never shows one): set it again in the user manager if needed"

    def request(self, api: Api) -> Any:
        if self.password is None:  # rebuilt from a record, which never holds a password: nothing to send
            raise ValueError(f"no password to send for {self.email}: a password is never recorded")
        return api.users.patch(userKey=self.google_id, body=password_body(self.password), fields="id")


@dataclass(frozen=True)
class UnsuspendUser(LinkedUserChange):
    action: ClassVar[str] = "unsuspend user"
    order: ClassVar[int] = 5

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, suspended_by_us=False)

    def _visible_effect(self) -> Json:
        return {"suspended": False}

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (
            SuspendUser(
                uuid=self.uuid, email=self.email, google_id=self.google_id, reason="unsuspended by the run undone"
            ),
        )

    def request(self, api: Api) -> Any:
        return api.users.patch(userKey=self.google_id, body={"suspended": False}, fields="id")


@dataclass(frozen=True)
class SuspendUser(LinkedUserChange):
    action: ClassVar[str] = "suspend user"
    order: ClassVar[int] = 6
    reason: str = ""

    def _details(self) -> Json:
        return {"reason": self.reason}

    def describe(self) -> str:
        return self.reason

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, suspended_by_us=True)

    def _visible_effect(self) -> Json:
        return {"suspended": True}

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (UnsuspendUser(uuid=self.uuid, email=self.email, google_id=self.google_id),)

    def request(self, api: Api) -> Any:
        return api.users.patch(userKey=self.google_id, body={"suspended": True}, fields="id")


# -- offboarding: what follows the suspension of a leaver, and what a comeback reverses ---------------------------


@dataclass(frozen=True)
class OffboardingStep(LinkedUserChange):
    """A step of [offboarding], applied before the suspension it follows (see PHASE_LEAVING)."""

    phase: ClassVar[float] = PHASE_LEAVING
    follows_suspension: ClassVar[bool] = True

    @property
    def proof(self) -> Json | None:
        return (
            None  # not shown by the reads that confirm changes: an unanswered one is planned again (each is idempotent)
        )

    def offboarding_fact(self) -> Json | None:
        return {"step": self.step}

    @property
    def step(self) -> str:
        return self.action


@dataclass(frozen=True)
class SignOut(OffboardingStep):
    action: ClassVar[str] = "sign out"
    order: ClassVar[int] = 1

    def describe(self) -> str:
        return "every web and device session ends"

    @property
    def step(self) -> str:
        return "signed out of every session"

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return "a sign-out cannot be undone: the user signs in again"

    def request(self, api: Api) -> Any:
        return api.users.signOut(userKey=self.google_id)


@dataclass(frozen=True)
class RevokeToken(OffboardingStep):
    """tokens.delete: one app's OAuth token (read with tokens.list when the plan was made)."""

    action: ClassVar[str] = "revoke token"
    order: ClassVar[int] = 2
    client_id: str = ""
    app: str = ""

    @property
    def subject(self) -> str:
        return f"{self.email} ← {self.app or self.client_id}"

    def _details(self) -> Json:
        return {"client_id": self.client_id, "app": self.app}

    def describe(self) -> str:
        return f"OAuth token of {self.app or 'an app'} (client {self.client_id})"

    @property
    def step(self) -> str:
        return f"token of {self.app or self.client_id} revoked"

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return f"a revoked token cannot be restored: the user connects {self.app or 'the app'} again"

    def request(self, api: Api) -> Any:
        return api.tokens.delete(userKey=self.google_id, clientId=self.client_id)

    def already_done(self, error: TargetError) -> str:
        return "already revoked" if error.kind is ErrorKind.NOT_FOUND else ""


@dataclass(frozen=True)
class RevokeAppPassword(OffboardingStep):
    """asps.delete: one application-specific password."""

    action: ClassVar[str] = "revoke app password"
    order: ClassVar[int] = 3
    code_id: str = ""
    name: str = ""

    @property
    def subject(self) -> str:
        return f"{self.email} ← {self.name or self.code_id}"

    def _details(self) -> Json:
        return {"code_id": self.code_id, "name": self.name}

    def describe(self) -> str:
        return f"app password {self.name!r}"

    @property
    def step(self) -> str:
        return f"app password {self.name or self.code_id} revoked"

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return "a revoked app password cannot be restored: the user makes a new one"

    def request(self, api: Api) -> Any:
        return api.asps.delete(userKey=self.google_id, codeId=int(self.code_id))

    def already_done(self, error: TargetError) -> str:
        return "already revoked" if error.kind is ErrorKind.NOT_FOUND else ""


@dataclass(frozen=True)
class HideFromDirectory(OffboardingStep):
    action: ClassVar[str] = "hide from directory"
    order: ClassVar[int] = 4

    def describe(self) -> str:
        return "includeInGlobalAddressList: true → false"

    @property
    def step(self) -> str:
        return "hidden from the directory"

    def offboarding_fact(self) -> Json | None:
        return {"step": self.step, "hidden": True}

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (ShowInDirectory(uuid=self.uuid, email=self.email, google_id=self.google_id),)

    def request(self, api: Api) -> Any:
        return api.users.patch(userKey=self.google_id, body={"includeInGlobalAddressList": False}, fields="id")


@dataclass(frozen=True)
class MoveLeaver(OffboardingStep):
    action: ClassVar[str] = "move to org unit"
    order: ClassVar[int] = 5
    path: str = ""
    previous: str = ""

    def _details(self) -> Json:
        return {"path": self.path, "previous": self.previous}

    def describe(self) -> str:
        return f"{self.previous} → {self.path}"

    @property
    def step(self) -> str:
        return f"moved to {self.path} (from {self.previous})"

    def offboarding_fact(self) -> Json | None:
        return {"step": self.step, "moved_from": self.previous, "moved_to": self.path}

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (
            MoveBack(
                uuid=self.uuid, email=self.email, google_id=self.google_id, path=self.previous, previous=self.path
            ),
        )

    def request(self, api: Api) -> Any:
        return api.users.patch(userKey=self.google_id, body={"orgUnitPath": self.path}, fields="id")

    def refused(self, error: TargetError) -> str:
        if error.kind is not ErrorKind.INVALID:
            return ""
        return f"not moved to {self.path} ({error}): create the org unit {self.path} in Google Admin, or change [offboarding] move_to_org_unit"


@dataclass(frozen=True)
class ShowInDirectory(LinkedUserChange):
    """A returning user is shown in the address book again (this tool had hidden it)."""

    action: ClassVar[str] = "show in directory"
    order: ClassVar[int] = 7

    def describe(self) -> str:
        return "includeInGlobalAddressList: false → true"

    @property
    def proof(self) -> Json | None:
        return None

    def offboarding_fact(self) -> Json | None:
        return {"step": "shown in the directory again", "hidden": False}

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (HideFromDirectory(uuid=self.uuid, email=self.email, google_id=self.google_id),)

    def request(self, api: Api) -> Any:
        return api.users.patch(userKey=self.google_id, body={"includeInGlobalAddressList": True}, fields="id")


@dataclass(frozen=True)
class MoveBack(LinkedUserChange):
    """A returning user goes back to the org unit it was in before this tool moved it."""

    action: ClassVar[str] = "move back to org unit"
    order: ClassVar[int] = 8
    path: str = ""
    previous: str = ""

    def _details(self) -> Json:
        return {"path": self.path, "previous": self.previous}

    def describe(self) -> str:
        return f"{self.previous} → {self.path}"

    @property
    def proof(self) -> Json | None:
        return None

    def offboarding_fact(self) -> Json | None:
        return {"step": f"moved back to {self.path}", "moved_from": ""}

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (
            MoveLeaver(
                uuid=self.uuid, email=self.email, google_id=self.google_id, path=self.previous, previous=self.path
            ),
        )

    def request(self, api: Api) -> Any:
        return api.users.patch(userKey=self.google_id, body={"orgUnitPath": self.path}, fields="id")


@dataclass(frozen=True)
class ScheduleTransfer(LinkedUserChange):
    """Local: the leaver's data goes to ``receiver`` once ``after`` seconds have passed (the transfer runner starts it)."""

    action: ClassVar[str] = "schedule transfer"
    phase: ClassVar[int] = PHASE_GROUPS  # after the suspension
    follows_suspension: ClassVar[bool] = True
    receiver: str = ""
    receiver_id: str = ""
    applications: tuple[str, ...] = ()
    privacy: tuple[str, ...] = ()
    after: float = 0.0
    due: str = field(
        default="", compare=False
    )  # the date, for people: left out of the data, so the checksum keeps from day to day

    @property
    def writes(self) -> bool:
        return False  # only recorded here; the transfer runner starts it when due

    def __post_init__(self) -> None:  # a record gives lists back
        object.__setattr__(self, "applications", tuple(self.applications))
        object.__setattr__(self, "privacy", tuple(self.privacy))

    def _details(self) -> Json:
        return {
            "receiver": self.receiver,
            "applications": list(self.applications),
            "privacy": list(self.privacy),
            "after": self.after,
        }

    def describe(self) -> str:
        what = " and ".join(name.capitalize() for name in self.applications)
        return f"transfer {what} to {self.receiver}" + (f" on {self.due}" if self.due else "")

    @property
    def unsent_note(self) -> str:
        return self.describe().replace("transfer", "transfer scheduled:", 1)

    @property
    def proof(self) -> Json | None:
        return None

    def offboarding_fact(self) -> Json | None:
        return {
            "step": self.unsent_note,
            "transfer_to": self.receiver,
            "transfer_to_id": self.receiver_id,
            "transfer_applications": ",".join(self.applications),
            "transfer_privacy": ",".join(self.privacy),
            "transfer_after": self.after,
        }

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (
            ReturnOfLeaver(
                uuid=self.uuid,
                email=self.email,
                google_id=self.google_id,
                note="the scheduled transfer is cancelled (one already started or completed stays done)",
            ),
        )

    def request(self, api: Api) -> Any:
        return None


@dataclass(frozen=True)
class ReturnOfLeaver(LinkedUserChange):
    """Local: a leaver is back (or the run that offboarded it undone): a transfer not started yet is cancelled.
    ``note`` says what was reversed and what cannot be."""

    action: ClassVar[str] = "leaver returns"
    phase: ClassVar[int] = PHASE_GROUPS
    order: ClassVar[int] = 9
    writes: ClassVar[bool] = False
    note: str = ""

    def _details(self) -> Json:
        return {"note": self.note}

    def describe(self) -> str:
        return self.note

    @property
    def unsent_note(self) -> str:
        return self.note

    @property
    def proof(self) -> Json | None:
        return None

    def offboarding_fact(self) -> Json | None:
        return {"step": "returned: " + self.note, "returned": True}

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return "a cancelled transfer is not scheduled again by an undo: the next suspension schedules a new one"

    def request(self, api: Api) -> Any:
        return None


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

    def _details(self) -> Json:
        return {"alias": self.alias}

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return None

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return f"alias {self.alias} is left (remove it in the Google Admin console if it must go)"

    def request(self, api: Api) -> Any:
        return api.aliases.insert(userKey=self.email, body={"alias": self.alias}, fields="alias")

    def refused(self, error: TargetError) -> str:
        return (
            f"{self.alias} is already taken by another user or group in Google"
            if error.kind is ErrorKind.CONFLICT
            else ""
        )

    @property
    def awaits(self) -> frozenset[str]:
        return frozenset({self.email})


@dataclass(frozen=True)
class SetPhoto(UserChange):
    """users.photos.update. In the groups phase, like aliases: a user created in this run must exist first."""

    action: ClassVar[str] = "set photo"
    phase: ClassVar[int] = PHASE_GROUPS
    order: ClassVar[int] = 5
    google_id: str = ""  # "" for a user created in this run: then the address names it
    photo: bytes = field(default=b"", repr=False, compare=False)
    mime_type: str = ""
    fingerprint: str = ""

    @property
    def user_key(self) -> str:
        return self.google_id or self.email

    def _details(self) -> Json:
        return {"photo": f"{self.mime_type}, {len(self.photo)} bytes"}

    def describe(self) -> str:
        return f"{self.mime_type}, {len(self.photo)} bytes"

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, photo_fingerprint=self.fingerprint)

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return "the photo Google had before is not kept by this tool: set it again in Google if needed"

    def request(self, api: Api) -> Any:
        return api.photos.update(
            userKey=self.user_key,
            body={"photoData": photos.web_safe(self.photo), "mimeType": self.mime_type},
            fields="id",
        )

    @property
    def awaits(self) -> frozenset[str]:
        return frozenset({self.email})


@dataclass(frozen=True)
class RemovePhoto(UserChange):
    """users.photos.delete: only of a photo this tool set, once the directory no longer has one."""

    action: ClassVar[str] = "remove photo"
    phase: ClassVar[int] = PHASE_GROUPS
    order: ClassVar[int] = 6
    google_id: str = ""

    def describe(self) -> str:
        return "the directory has none now; this tool had set it"

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "user", previous, google_id, photo_fingerprint="")

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return "the photo removed is not kept by this tool: the next synchronization sets the directory's photo again"

    def request(self, api: Api) -> Any:
        return api.photos.delete(userKey=self.google_id)

    def already_done(self, error: TargetError) -> str:
        return "already removed" if error.kind is ErrorKind.NOT_FOUND else ""


@dataclass(frozen=True)
class LicenseChange(Change):
    """Enterprise License Manager: its own API (own batches), once the user exists; no effect on the links."""

    phase: ClassVar[int] = PHASE_GROUPS
    api: ClassVar[str] = "licensing"
    uuid: str
    email: str
    product: str = ""
    sku: str = ""

    @property
    def subject(self) -> str:
        return self.email

    def _details(self) -> Json:
        return {"product": self.product, "sku": self.sku}

    def describe(self) -> str:
        return f"{self.product} {self.sku}"


@dataclass(frozen=True)
class AssignLicense(LicenseChange):
    action: ClassVar[str] = "assign licence"
    order: ClassVar[int] = 7

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (ReleaseLicense(uuid=self.uuid, email=self.email, product=self.product, sku=self.sku),)

    def request(self, api: Api) -> Any:
        return api.licenses.insert(productId=self.product, skuId=self.sku, body={"userId": self.email}, fields="userId")

    def recheck(self, api: Api, error: TargetError) -> Any:
        # Google answers 412 (some say 409) when the user holds a licence of the product already: Google's automatic
        # licensing may have given this very SKU when the account was created. A read of the assignment tells.
        if error.kind in (ErrorKind.CONFLICT, ErrorKind.PRECONDITION):
            return api.licenses.get(productId=self.product, skuId=self.sku, userId=self.email, fields="skuId")
        return None

    def refused(self, error: TargetError) -> str:
        # A new account's "creation is not complete" passes (another kind): only "none left" is final.
        if error.kind is not ErrorKind.PRECONDITION:
            return ""
        return (
            f"{self.product} {self.sku} not assigned ({error}): no licence of it left; the user is synchronized without "
            "it: buy more licences or free some (e.g. [licenses] release_on_suspend = yes), then synchronize again"
        )

    @property
    def awaits(self) -> frozenset[str]:
        return frozenset({self.email})


@dataclass(frozen=True)
class ReassignLicense(LicenseChange):
    """The user holds another SKU of the product (Google gives one per product): licenseAssignments.patch moves it."""

    action: ClassVar[str] = "reassign licence"
    order: ClassVar[int] = 7
    held_sku: str = ""

    def _details(self) -> Json:
        return {**super()._details(), "held_sku": self.held_sku}

    def describe(self) -> str:
        return f"{self.product} {self.held_sku} → {self.sku}"

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (
            ReassignLicense(
                uuid=self.uuid, email=self.email, product=self.product, sku=self.held_sku, held_sku=self.sku
            ),
        )

    def request(self, api: Api) -> Any:
        return api.licenses.patch(
            productId=self.product, skuId=self.held_sku, userId=self.email, body={"skuId": self.sku}, fields="skuId"
        )

    def refused(self, error: TargetError) -> str:
        if error.kind is not ErrorKind.PRECONDITION:
            return ""
        return (
            f"{self.product} {self.held_sku} not reassigned to {self.sku} ({error}): no {self.sku} licence left; the user "
            "keeps the one held. Buy more licences or free some, then synchronize again"
        )


@dataclass(frozen=True)
class ReleaseLicense(LicenseChange):
    """Only with [licenses] release_on_suspend, when this run suspends the user."""

    action: ClassVar[str] = "release licence"
    order: ClassVar[int] = 8

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (AssignLicense(uuid=self.uuid, email=self.email, product=self.product, sku=self.sku),)

    def request(self, api: Api) -> Any:
        return api.licenses.delete(productId=self.product, skuId=self.sku, userId=self.email)

    def already_done(self, error: TargetError) -> str:
        return "already released" if error.kind is ErrorKind.NOT_FOUND else ""


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
    def proof(self) -> Json | None:
        return {"read": "group", "key": getattr(self, "google_id", "") or self.email, "expect": {"email": self.email}}


@dataclass(frozen=True)
class CreateGroup(GroupChange):
    action: ClassVar[str] = "create group"
    order: ClassVar[int] = 1
    name: str = ""
    description: str = ""

    def _details(self) -> Json:
        return {"name": self.name, "description": self.description}

    def describe(self) -> str:
        return self.name

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return _link(self, "group", previous, google_id, created_by_us=True)

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return "a group the run created is left in Google (delete it from the console's Groups page if it must go)"

    def request(self, api: Api) -> Any:
        return api.groups.insert(
            body={"email": self.email, "name": self.name, "description": self.description}, fields="id"
        )

    def on_conflict(self, api: Api, ours: bool) -> Adoption:
        def take_over(existing: Json) -> tuple[Any, Json, str]:
            body = {"name": self.name, "description": self.description}
            proof = {"read": "group", "key": existing["id"], "expect": {}}
            return (
                api.groups.patch(groupKey=existing["id"], body=body, fields="id"),
                proof,
                _adopted("already existed: adopted", ours),
            )

        return Adoption(api.groups.get(groupKey=self.email, fields="id"), take_over)

    @property
    def introduces(self) -> str:
        return self.email


def _adopted(note: str, ours: bool) -> str:
    return "created (the first answer was lost on the way)" if ours else note


@dataclass(frozen=True)
class AdoptGroup(FieldChanges, GroupChange):
    action: ClassVar[str] = "adopt group"
    order: ClassVar[int] = 2
    google_id: str = ""
    changes: tuple[FieldChange, ...] = ()

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return _reverted_fields(UpdateGroup, self) or "it only linked the group: nothing to undo in Google"

    def request(self, api: Api) -> Any:
        return _group_patch(self, api)


@dataclass(frozen=True)
class UpdateGroup(FieldChanges, GroupChange):
    action: ClassVar[str] = "update group"
    order: ClassVar[int] = 3
    google_id: str = ""
    changes: tuple[FieldChange, ...] = ()

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return _reverted_fields(UpdateGroup, self)

    def request(self, api: Api) -> Any:
        return _group_patch(self, api)


@dataclass(frozen=True)
class DeleteGroup(GroupChange):
    """Never planned: only an administrator's explicit, confirmed request makes one (see SyncEngine.delete_group)."""

    action: ClassVar[str] = "delete group"
    order: ClassVar[int] = 9
    google_id: str = ""

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return None  # the engine drops the link once the group is gone

    @property
    def proof(self) -> Json | None:
        return None

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return "a deleted group cannot be restored by this tool (Google keeps it for 20 days: restore it in the Admin console)"

    def request(self, api: Api) -> Any:
        return api.groups.delete(groupKey=self.google_id)


def _group_patch(change: AdoptGroup | UpdateGroup, api: Api) -> Any:
    body = {each.field: each.new for each in change.changes}
    return api.groups.patch(groupKey=change.google_id, body=body, fields="id") if body else None


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

    def _details(self) -> Json:
        return {"policy": self.policy, "previous": self.previous}

    def describe(self) -> str:
        return f"{self.previous or 'as Google has it'} → {self.policy} ({POSTING_SETTINGS[self.policy]['whoCanPostMessage']})"

    def linked(self, previous: Link | None, google_id: str) -> Link | None:
        return replace(previous, posting_policy=self.policy) if previous else None

    @property
    def proof(self) -> Json | None:
        return None  # another API's setting: an unanswered one is applied again (it is idempotent)

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        if not self.previous:
            return (
                "the posting policy before the run was Google's own setting, which this tool never read: left as it is"
            )
        return (SetPostingPolicy(uuid=self.uuid, email=self.email, policy=self.previous, previous=self.policy),)

    def request(self, api: Api) -> Any:
        return api.group_settings.patch(groupUniqueId=self.email, body=POSTING_SETTINGS[self.policy], fields="email")

    @property
    def awaits(self) -> frozenset[str]:
        return frozenset({self.email})


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

    def _details(self) -> Json:
        return {"group": self.group_email, "member": self.member_email}


@dataclass(frozen=True)
class AddMember(MemberChange):
    action: ClassVar[str] = "add member"
    order: ClassVar[int] = 1

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (RemoveMember(group_email=self.group_email, member_email=self.member_email),)

    def request(self, api: Api) -> Any:
        return api.members.insert(
            groupKey=self.group_email, body={"email": self.member_email, "role": "MEMBER"}, fields="id"
        )

    def already_done(self, error: TargetError) -> str:
        return "already there" if error.kind is ErrorKind.CONFLICT else ""

    @property
    def awaits(self) -> frozenset[str]:
        return frozenset({self.group_email, self.member_email})


@dataclass(frozen=True)
class RemoveMember(MemberChange):
    action: ClassVar[str] = "remove member"
    order: ClassVar[int] = 2

    def inverse(self, google_id: str) -> tuple[Change, ...] | str:
        return (AddMember(group_email=self.group_email, member_email=self.member_email),)

    def request(self, api: Api) -> Any:
        return api.members.delete(groupKey=self.group_email, memberKey=self.member_key)

    def already_done(self, error: TargetError) -> str:
        return "already removed" if error.kind is ErrorKind.NOT_FOUND else ""


class _FieldsOf(_Linked, Protocol):
    @property
    def google_id(self) -> str: ...

    @property
    def changes(self) -> tuple[FieldChange, ...]: ...


def _reverted_fields(kind: Callable[..., Change], change: _FieldsOf) -> tuple[Change, ...]:
    """Each field back to the value it had before ``change``; the object keeps the address it had then."""
    reverted = tuple(FieldChange(each.field, each.new, each.old) for each in change.changes)
    if not reverted:
        return ()
    email = next((each.old for each in change.changes if each.field in ("primaryEmail", "email")), change.email)
    return (kind(uuid=change.uuid, email=email, google_id=change.google_id, changes=reverted),)


@dataclass(frozen=True)
class Notice:
    """Something the administrator should read: a skipped object, a protected account."""

    level: str  # "warning" or "info"
    subject: str
    message: str
    code: str = ""  # a codes.NoticeCode: what callers decide on (the message is for people)

    @property
    def data(self) -> Json:
        return {"level": self.level, "object": self.subject, "message": self.message, "code": str(self.code)}


@dataclass(frozen=True)
class Held:
    """A change a push planned but the safety limits keep back until the administrator releases it."""

    change: Change
    scope: str  # the directory entry (entryUUID) whose push planned it: a later push of it replaces the hold
    reason: str

    @property
    def data(self) -> Json:
        return {**self.change.data, "scope": self.scope, "reason": self.reason}


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    notices: tuple[Notice, ...] = ()
    refusals: tuple[str, ...] = ()  # safety limits this plan breaks (a full run: nothing is applied without --force)
    held: tuple[Held, ...] = ()  # changes of a push kept back by the safety limits (the rest of the push applies)
    # The entries (entryUUIDs) this plan speaks for: a push's own; None for a full run (the whole directory).
    # What was held for them before is replaced by what this plan holds.
    covers: frozenset[str] | None = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(sorted(self.changes, key=lambda c: c.sort_key)))
        object.__setattr__(
            self,
            "notices",
            tuple(sorted(set(self.notices), key=lambda n: (n.level != "warning", n.subject, n.message))),
        )

    @property
    def in_sync(self) -> bool:
        return not self.changes

    def __add__(self, other: Plan) -> Plan:
        """Two pushes' plans as one (releasing held changes of several entries in one run)."""
        covers = None if self.covers is None or other.covers is None else self.covers | other.covers
        return Plan(
            self.changes + other.changes,
            self.notices + other.notices,
            self.refusals + other.refusals,
            self.held + other.held,
            covers,
        )

    @property
    def write_count(self) -> int:
        return sum(1 for change in self.changes if change.writes)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.action] = counts.get(change.action, 0) + 1
        return counts

    def of_type(self, kind: type[C]) -> list[C]:
        return [change for change in self.changes if isinstance(change, kind)]

    @property
    def checksum(self) -> str:
        """The SHA-256 of the changes' data as one JSON list (sorted keys), hashed change by change: the same
        bytes as dumping the list whole, without the whole text in memory."""
        digest = hashlib.sha256(b"[")
        for number, change in enumerate(self.changes):
            digest.update(
                (", " if number else "").encode()
                + json.dumps(change.data, sort_keys=True, ensure_ascii=False).encode("utf-8")
            )
        digest.update(b"]")
        return digest.hexdigest()[:16]

    def raise_if_unsafe(self, force: bool = False) -> None:
        if self.refusals and not force:
            raise UnsafePlan("; ".join(self.refusals))

    @property
    def data(self) -> Json:
        return {
            "in_sync": self.in_sync,
            "checksum": self.checksum,
            "counts": self.counts(),
            "changes": [change.data for change in self.changes],
            "notices": [notice.data for notice in self.notices],
            "refused": list(self.refusals),
            "held": [held.data for held in self.held],
        }

    @property
    def streamed_data(self) -> Json:
        """``data`` whose long lists are made item by item as JSON is written (json_output.write)."""
        return {
            **self.data_head(),
            "changes": lazy_list(change.data for change in self.changes),
            "notices": lazy_list(notice.data for notice in self.notices),
            "refused": list(self.refusals),
            "held": lazy_list(held.data for held in self.held),
        }

    def data_head(self) -> Json:
        return {"in_sync": self.in_sync, "checksum": self.checksum, "counts": self.counts()}


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
    for held in plan.held:
        lines.append(f"  {'HELD:':<15} {held.change.action} {held.change.subject}: {held.reason}")
    summary = ", ".join(f"{count} {action}" for action, count in sorted(plan.counts().items())) or "no changes"
    lines.append(f"Plan {plan.checksum}: {summary}.")
    for refusal in plan.refusals:
        lines.append(f"REFUSED: {refusal}")
    return "\n".join(lines)
