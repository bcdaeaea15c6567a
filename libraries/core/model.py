"""Plain values that flow between the edges (LDAP, Google, store) and the planner.

Everything here is frozen: the planner receives snapshots and returns a plan,
so nothing it is handed can change under its feet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldChange:
    """One field of a Google object, old → new (what the test shows, what a patch sends, what an undo restores)."""

    field: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.field}: {self.old!r} → {self.new!r}"


@dataclass(frozen=True)
class PasswordHash:
    """A password in a form Google accepts: ``value`` + Google's ``hashFunction``.

    ``hash_function`` is ``"SHA-1"`` or ``"MD5"`` (hex digests) or ``"crypt"``.
    Cleartext never gets here.
    """

    value: str
    hash_function: str

    def __repr__(self) -> str:  # never print password material, even hashed
        return f"PasswordHash(hash_function={self.hash_function!r}, value=<hidden>)"


@dataclass(frozen=True)
class DirectoryUser:
    """One LDAP account as read, before any validation against Google's rules."""

    uuid: str  # entryUUID: the identity that survives renames
    dn: str
    uid: str
    given_name: str
    family_name: str
    mail: str = ""  # the entry's mail attribute, empty when it has none
    in_scope: bool = True  # included by a source ([sources]; by default the enabled_group switch) and not excluded
    in_pilot: bool = True  # covered by the pilot ([sources] pilot_source, pilot_users); always True without one
    locked: bool = False  # matched disabled_filter
    password: PasswordHash | None = None
    password_problem: str = ""  # why the stored password cannot be pushed
    # Hashed by the console at the moment the password was set: pushed as it is.
    captured_password: PasswordHash | None = None
    # Optional fields, filled only when [attributes] maps them.
    title: str = ""
    department: str = ""
    phone: str = ""
    mobile: str = ""
    employee_id: str = ""
    aliases: tuple[str, ...] = ()
    manager: str = ""  # the manager's DN, when [attributes] manager maps one
    photo: bytes = field(default=b"", repr=False)  # the image, when [attributes] photo maps one
    # [custom_attributes]: ("schema.field" as configured, the attribute's values), for each one mapped
    custom: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Where [sync] org_units places the user, relative to org_unit_root ("" = the root); an absolute path ("/Staff")
    # when a source subtree names the org unit of its users.
    org_unit: str = ""


@dataclass(frozen=True)
class CustomField:
    """A field of a custom user schema, as schemas.list gives it."""

    schema: str
    name: str
    kind: str  # STRING, INT64, BOOL, DOUBLE, EMAIL, PHONE or DATE
    multi: bool = False

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class DirectoryGroup:
    uuid: str
    dn: str
    name: str
    description: str = ""
    mail: str = ""
    member_uids: frozenset[str] = frozenset()
    member_groups: frozenset[str] = frozenset()  # names of groups listed as members (groupOfNames nesting)
    unknown_member_dns: tuple[str, ...] = ()  # member DNs naming no user and no group (a whole read only): reported


@dataclass(frozen=True)
class DirectoryState:
    users: tuple[DirectoryUser, ...]
    groups: tuple[DirectoryGroup, ...]


@dataclass(frozen=True)
class GoogleUser:
    id: str
    primary_email: str
    given_name: str = ""
    family_name: str = ""
    suspended: bool = False
    is_admin: bool = False
    # Google's arrays as read, so a patch can keep the entries we do not manage.
    organizations: tuple[dict, ...] = ()
    phones: tuple[dict, ...] = ()
    external_ids: tuple[dict, ...] = ()
    aliases: tuple[str, ...] = ()
    org_unit_path: str = "/"
    relations: tuple[dict, ...] = ()
    custom_schemas: dict = field(default_factory=dict, compare=False, hash=False)  # read with projection=full only
    customer_id: str = ""  # the account's id (the licensing API's customerId)
    in_directory: bool = True  # includeInGlobalAddressList: shown in the address book

    @classmethod
    def from_api(cls, resource: dict) -> GoogleUser:
        name = resource.get("name") or {}
        return cls(
            id=resource["id"],
            primary_email=resource["primaryEmail"].lower(),
            given_name=name.get("givenName", ""),
            family_name=name.get("familyName", ""),
            suspended=bool(resource.get("suspended", False)),
            is_admin=bool(resource.get("isAdmin") or resource.get("isDelegatedAdmin")),
            organizations=tuple(resource.get("organizations") or ()),
            phones=tuple(resource.get("phones") or ()),
            external_ids=tuple(resource.get("externalIds") or ()),
            aliases=tuple(alias.lower() for alias in resource.get("aliases") or ()),
            org_unit_path=resource.get("orgUnitPath") or "/",
            relations=tuple(resource.get("relations") or ()),
            custom_schemas=resource.get("customSchemas") or {},
            customer_id=resource.get("customerId", ""),
            in_directory=resource.get("includeInGlobalAddressList", True) is not False,
        )

    @property
    def primary_organization(self) -> dict:
        return next(
            (org for org in self.organizations if org.get("primary")),
            self.organizations[0] if self.organizations else {},
        )

    def phone_of_type(self, kind: str) -> str:
        return next((phone.get("value", "") for phone in self.phones if phone.get("type") == kind), "")

    @property
    def employee_id(self) -> str:
        return next((ext.get("value", "") for ext in self.external_ids if ext.get("type") == "organization"), "")

    def mapped_value(self, field: str) -> str:
        """The current value of one of the optional fields [attributes] can map."""
        readers = {
            "title": lambda: self.primary_organization.get("title", ""),
            "department": lambda: self.primary_organization.get("department", ""),
            "phone": lambda: self.phone_of_type("work"),
            "mobile": lambda: self.phone_of_type("mobile"),
            "employee_id": lambda: self.employee_id,
            "manager": lambda: next(
                (r.get("value", "") for r in self.relations if r.get("type") == "manager"), ""
            ).lower(),
        }
        return readers[field]()


@dataclass(frozen=True)
class GoogleGroup:
    id: str
    email: str
    name: str = ""
    description: str = ""
    # Emails (lower case) of direct USER and GROUP members; None when not read.
    members: frozenset[str] | None = None
    # (email, Google id) of those members, as members.list gives them: after a rename the old address is an
    # alias of the same account, so memberships are compared, and removed, by id.
    member_ids: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_api(cls, resource: dict, members: Mapping[str, str] | Iterable[str] | None = None) -> GoogleGroup:
        ids = tuple(sorted(members.items())) if isinstance(members, Mapping) else ()
        return cls(
            id=resource["id"],
            email=resource["email"].lower(),
            name=resource.get("name", ""),
            description=resource.get("description", ""),
            members=frozenset(members) if members is not None else None,
            member_ids=ids,
        )

    @property
    def current_members(self) -> dict[str, str]:
        """Member address → Google id ("" when only the address is known)."""
        return {**dict.fromkeys(self.members, ""), **dict(self.member_ids)} if self.members else {}


@dataclass(frozen=True)
class GoogleState:
    users: tuple[GoogleUser, ...]
    groups: tuple[GoogleGroup, ...]
    org_units: frozenset[str] | None = None  # paths of the existing org units; None when not read
    # The account's domains as Google lists them (primary and secondary; then domain aliases); None when not read.
    domains: frozenset[str] | None = None
    domain_aliases: frozenset[str] = frozenset()
    unverified_domains: frozenset[str] = (
        frozenset()
    )  # listed by Google but not verified: no address can be made there yet
    custom_fields: tuple[CustomField, ...] | None = None  # the account's custom schema fields; None when not read
    licensed: frozenset[str] | None = None  # addresses holding the [licenses] SKU; None when not read
    # address -> the other SKU of the [licenses] product it holds (Google allows one SKU per product and user)
    licensed_elsewhere: tuple[tuple[str, str], ...] = ()
    leavers: LeaverReads | None = None  # what [offboarding] needs of the accounts being suspended; None when not read


@dataclass(frozen=True)
class LeaverReads:
    """Read for [offboarding] once a plan knows who leaves: their tokens and app passwords, and who may receive their data."""

    tokens: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # Google id -> (clientId, app name)
    app_passwords: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # Google id -> (codeId, name)
    receivers: dict[str, GoogleUser | None] = field(
        default_factory=dict
    )  # address -> its account (None: not in Google)


@dataclass(frozen=True)
class Offboarded:
    """What this tool did to a leaver, as the state database remembers it (for a comeback and the Leavers view)."""

    google_id: str
    uuid: str
    email: str
    left_at: str = ""  # ISO time of the first step
    steps: tuple[tuple[str, str], ...] = ()  # (ISO time, what was done)
    hidden: bool = False  # this tool hid the account from the directory
    moved_from: str = ""  # the org unit it was in before this tool moved it ("" = not moved)
    moved_to: str = ""
    transfer_to: str = ""  # receiver's address
    transfer_to_id: str = ""
    transfer_applications: tuple[str, ...] = ()
    transfer_due_at: str = ""
    transfer_status: str = ""  # scheduled, new, inProgress, completed, failed (will retry), cancelled
    transfer_id: str = ""
    transfer_attempts: int = 0
    transfer_error: str = ""
    transfer_done_at: str = ""
    returned_at: str = ""


@dataclass(frozen=True)
class Link:
    """What the store remembers of an LDAP entry we manage in Google."""

    kind: str  # "user" or "group"
    uuid: str  # entryUUID of the LDAP entry
    google_id: str
    email: str
    suspended_by_us: bool = False
    created_by_us: bool = False
    password_fingerprint: str = ""
    posting_policy: str = ""  # groups: the posting policy last applied
    photo_fingerprint: str = ""  # users: digest of the photo this tool last set ("" = none set by us)


@dataclass(frozen=True)
class LinkState:
    links: tuple[Link, ...] = field(default_factory=tuple)

    def by_uuid(self, kind: str) -> dict[str, Link]:
        return {link.uuid: link for link in self.links if link.kind == kind}

    def by_google_id(self, kind: str) -> dict[str, Link]:
        return {link.google_id: link for link in self.links if link.kind == kind}
