"""The directory side: read users and groups from OpenLDAP, whole (paged) or one at a time.

A read either returns everything the settings select or raises ``SourceError``:
a partial directory must never reach the planner, which would take the users
it did not see for users who left and suspend them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import ldap
import ldap.dn
import ldap.filter
from ldap.controls import SimplePagedResultsControl

from ..core.errors import ConfigError, SourceError
from ..core.model import DirectoryGroup, DirectoryState, DirectoryUser, PasswordHash
from ..core.passwords import from_directory
from ..settings.config import RESERVED_USERS, AttributeMap, LdapSettings, SourceSettings, is_reserved_group
from ..settings.config_schema import Subtree
from .sources import EVERYONE, GroupGraph, UserScope, build_scope, ous_between
from .sources import Members as _Members

log = logging.getLogger(__name__)

LIMITS_HELP = "see deploy/sync-account-limits.ldif"
TLS_HELP = "set [ldap] ca_file to the CA certificate that signed the server's certificate"


def tls_help(ca_file: str) -> str:
    """What to do about a refused certificate: a ca_file already set may be the wrong file, or no certificate at all."""
    if not ca_file:
        return TLS_HELP
    return f"check [ldap] ca_file = {ca_file}: it must be the PEM certificate of the CA that signed the server's certificate"


Entry = tuple[str, dict[str, list[bytes]]]


MEMBER_ATTRIBUTES = ("memberUid", "member", "uniqueMember")  # posixGroup, groupOfNames, groupOfUniqueNames
# groupOfNames needs a member, so ClearOS gives every empty group "cn=No Members,<users container>",
# the DN of its reserved user nomembers (normalised: lower case, as _dn_key spells DNs).
NO_MEMBERS_RDN = "cn=no members,"
NO_MEMBERS_UID = "nomembers"
# Samba's well-known groups are Windows groups, not mailing lists: its BUILTIN ones (S-1-5-32-544
# Administrators, -545 Users, …) and the domain's own below RID 1000 (512 Domain Admins, 513 Domain Users,
# …; a group an administrator creates gets a RID of 1000 or more). ClearOS's Samba app creates them beside
# the user groups (domain_admins, domain_users, administrators, power_users, …) with gidNumbers 1000512
# to 1000551; its group manager does not show them as user groups, and neither is any synchronized.
BUILTIN_SID_PREFIX = "S-1-5-32-"
FIRST_ORDINARY_RID = 1000
CLEAROS_WINDOWS_GIDS = range(1000500, 1000600)
WINDOWS_GROUP_ATTRIBUTES = ("sambaSID", "gidNumber")
USERS_PER_SEARCH = 200  # keeps (|(uid=…)…) filters of a group push a sane size


@dataclass(frozen=True)
class OutlineUnit:
    dn: str
    path: str  # "Staff/Berlin" below users_dn ("" for users_dn itself)
    users: int  # users in it, its sub-OUs included
    direct: int  # users right below it

    @property
    def depth(self) -> int:
        return self.path.count("/") + 1 if self.path else 0


@dataclass(frozen=True)
class OutlineGroup:
    name: str
    description: str
    users: int  # users it holds, nested groups followed
    nested: tuple[str, ...]  # groups nested in it, at any depth (lower case)


@dataclass(frozen=True)
class Outline:
    units: tuple[OutlineUnit, ...]
    groups: tuple[OutlineGroup, ...]
    in_scope: int | None = None  # users the saved sources include (and the pilot covers); None: a source is missing


class LdapSource:
    """Reads a ``DirectoryState`` (or one user or group) with the ``[ldap]`` settings.

    The connection opens on first use and is dropped after any error, so the
    next call starts afresh. ``cleartext_salt_key`` is handed (per entry) to
    ``passwords.from_directory`` so a cleartext ``userPassword`` hashes the same
    way on every run.
    """

    def __init__(
        self,
        settings: LdapSettings,
        cleartext_salt_key: bytes | None = None,
        attributes: AttributeMap = AttributeMap(),
        org_units: str = "",
        custom_attributes: tuple[tuple[str, str], ...] = (),
        sources: SourceSettings = SourceSettings(),
    ):
        self.settings = settings
        self.sources = sources
        self.custom_attributes = custom_attributes  # ([custom_attributes] key, LDAP attribute)
        self.attributes = attributes
        self.org_units = org_units  # "", "dn" or "attribute:NAME" ([sync] org_units)
        self._cleartext_salt_key = cleartext_salt_key
        self._connection: ldap.ldapobject.LDAPObject | None = None

    def __enter__(self) -> LdapSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(ldap.LDAPError):
                connection.unbind_s()

    # --- whole directory ------------------------------------------------------
    def read_state(self) -> DirectoryState:
        """Every user under users_dn and group under groups_dn, or SourceError."""
        settings = self.settings
        user_entries = self._search(settings.users_dn, settings.user_filter, self._user_attributes(), "users_dn")
        locked = self._locked_uuids(settings.users_dn, ldap.SCOPE_SUBTREE)
        group_entries = self._search(settings.groups_dn, settings.group_filter, self._group_attributes(), "groups_dn")
        uid_by_dn = _uid_by_dn(user_entries)
        scope = self._scope(group_entries)
        users = [
            user for dn, attributes in user_entries if (user := self._user(dn, attributes, scope, locked)) is not None
        ]
        real_groups = [
            (dn, attributes)
            for dn, attributes in group_entries
            if self._is_real_group(_first(attributes, "cn"), attributes)
        ]
        group_by_dn = {_dn_key(dn): _first(attributes, "cn") for dn, attributes in real_groups}
        known = set(uid_by_dn) | {_dn_key(dn) for dn, _ in group_entries}
        groups = [
            _group(dn, attributes, uid_by_dn, settings.mail_attribute, group_by_dn, known)
            for dn, attributes in real_groups
        ]
        log.info("read %d users and %d groups from %s", len(users), len(groups), settings.uri)
        return DirectoryState(
            users=tuple(sorted(users, key=lambda user: (user.uid, user.uuid))),
            groups=tuple(sorted(groups, key=lambda group: (group.name.lower(), group.uuid))),
        )

    # --- one object -------------------------------------------------------------
    def read_user(self, uid: str) -> DirectoryUser | None:
        """The user whose uid is ``uid`` (None when absent or reserved)."""
        return self._read_one_user(ldap.filter.filter_format("(uid=%s)", [uid]), f"uid {uid!r}")

    def read_user_by_dn(self, dn: str) -> DirectoryUser | None:
        """The user at ``dn`` (a manager named by a pushed user), or None; entryDN matches any spelling of it."""
        return self._read_one_user(ldap.filter.filter_format("(entryDN=%s)", [dn]), f"DN {dn}")

    def read_user_by_uuid(self, uuid: str) -> DirectoryUser | None:
        """The user whose entryUUID is ``uuid``: found again after a rename."""
        return self._read_one_user(ldap.filter.filter_format("(entryUUID=%s)", [uuid]), f"entryUUID {uuid}")

    def any_user(self) -> bool:
        """Whether [ldap] users_dn holds at least one entry matching user_filter (one entry read, whatever their number)."""
        return self._any(self.settings.users_dn, self.settings.user_filter, "users_dn")

    def read_group(self, name: str) -> DirectoryGroup | None:
        """The group called ``name`` (None when absent, reserved or a plugin switch)."""
        if not self._is_real_group(name):
            return None
        settings = self.settings
        search = f"(&{settings.group_filter}{ldap.filter.filter_format('(cn=%s)', [name])})"
        entries = self._search(settings.groups_dn, search, self._group_attributes(), "groups_dn")
        if not entries:
            return None
        if len(entries) > 1:
            raise SourceError(
                f"{len(entries)} groups are called {name!r} under {settings.groups_dn}: {_dn_list(entries)}; rename all but one"
            )
        dn, attributes = entries[0]
        if is_windows_group(attributes):
            return None
        uid_by_dn, group_by_dn, known = {}, {}, set()
        if _members(attributes).dns:  # member DNs: users, or nested groups
            uid_by_dn = _uid_by_dn(self._search(settings.users_dn, settings.user_filter, ["uid"], "users_dn"))
            groups = self._search(
                settings.groups_dn, settings.group_filter, ["cn", *WINDOWS_GROUP_ATTRIBUTES], "groups_dn"
            )
            group_by_dn = {
                _dn_key(group_dn): name
                for group_dn, found in groups
                if self._is_real_group(name := _first(found, "cn"), found)
            }
            known = set(uid_by_dn) | {_dn_key(group_dn) for group_dn, _ in groups}
        return _group(dn, attributes, uid_by_dn, settings.mail_attribute, group_by_dn, known)

    def read_groups_of(self, user: DirectoryUser) -> tuple[DirectoryGroup, ...]:
        """The real groups that list ``user`` (by memberUid or member DN): one search, for a targeted push."""
        settings = self.settings
        membership = ldap.filter.filter_format(
            "(|(memberUid=%s)(member=%s)(uniqueMember=%s))", [user.uid, user.dn, user.dn]
        )
        entries = self._search(
            settings.groups_dn, f"(&{settings.group_filter}{membership})", self._group_attributes(), "groups_dn"
        )
        uid_by_dn = {_dn_key(user.dn): user.uid}
        return tuple(
            _group(dn, attributes, uid_by_dn, settings.mail_attribute)
            for dn, attributes in entries
            if self._is_real_group(_first(attributes, "cn"), attributes)
        )

    def read_users(self, uids: list[str]) -> tuple[DirectoryUser, ...]:
        """The users with these uids, in a few searches of at most CHUNK uids each (a group push's members)."""
        settings = self.settings
        scope = self._scope()
        locked = self._locked_uuids(settings.users_dn, ldap.SCOPE_SUBTREE)
        users: list[DirectoryUser] = []
        for start in range(0, len(uids), USERS_PER_SEARCH):
            chunk = uids[start : start + USERS_PER_SEARCH]
            wanted = "".join(ldap.filter.filter_format("(uid=%s)", [uid]) for uid in chunk)
            entries = self._search(
                settings.users_dn, f"(&{settings.user_filter}(|{wanted}))", self._user_attributes(), "users_dn"
            )
            users.extend(
                user for dn, attributes in entries if (user := self._user(dn, attributes, scope, locked)) is not None
            )
        return tuple(users)

    def check(self) -> list[str]:
        """Connect, bind and look once at each configured place; SourceError names what is wrong."""
        settings = self.settings
        connection = self._connect()
        with self._errors(f"asking {settings.uri} who we are"):
            identity = connection.whoami_s() or "anonymous"
        findings = [f"connected to {settings.uri} as {identity}"]
        with self._errors("reading the root DSE"):
            root_dse = connection.read_rootdse_s() or {}
        controls = root_dse.get("supportedControl")
        if controls is not None and SimplePagedResultsControl.controlType.encode() not in controls:
            raise SourceError(
                f"{settings.uri} does not offer the paged results control, which reading a whole directory needs"
            )
        for key, base, search in (
            ("users_dn", settings.users_dn, settings.user_filter),
            ("groups_dn", settings.groups_dn, settings.group_filter),
        ):
            found = self._any(base, search, key)
            if not found and identity == "anonymous":
                raise SourceError(
                    f"an anonymous bind finds nothing under {base} on {settings.uri}: [ldap] bind_dn is empty, so no account was used; "
                    "set bind_dn and bind_password_file (or bind_password) to the sync account"
                )
            findings.append(f"{key} {base}: {'entries found' if found else 'no entry matches ' + search}")
        if settings.enabled_group:
            self._enabled_members(self._search(settings.groups_dn, self._enabled_group_filter(), ["cn"], "groups_dn"))
            findings.append(f"enabled_group {settings.enabled_group} found")
        return findings

    def check_sources(self) -> list[tuple[bool, str]]:
        """(ok, detail) for each of [sources] (a subtree, a group, an exclusion, the switch, the pilot) with the users it
        holds, then the users in scope: a missing source fails, naming the key and the fix."""
        sources, settings = self.sources, self.settings
        if sources == SourceSettings():
            return []  # the switch alone, as on ClearOS: check() has looked up enabled_group already
        users = self._search(settings.users_dn, settings.user_filter, ["uid"], "users_dn")
        groups = self._search(settings.groups_dn, settings.group_filter, ["cn", *MEMBER_ATTRIBUTES], "groups_dn")
        people = [
            (uid, dn) for dn, attributes in users if (uid := _first(attributes, "uid")) and uid not in RESERVED_USERS
        ]
        lines = [self._check_subtree(subtree, people) for subtree in sources.subtrees]
        graph = _group_graph(groups)
        for label, names, key in (
            ("group", sources.member_groups, "member_groups"),
            ("exclusion group", sources.exclusion_groups, "exclusion_groups"),
        ):
            for name in names:
                try:
                    members = graph.members_of((name,), key)
                except SourceError as error:
                    lines.append((False, str(error)))
                    continue
                lines.append((True, f"{label} {name}: {sum(members.include(uid, dn) for uid, dn in people)} user(s)"))
        if not all(ok for ok, _ in lines):
            return lines
        try:
            scope = self._scope(groups)
        except SourceError as error:
            return [*lines, (False, str(error))]
        if sources.uses_switch:
            who = (
                f"members of {settings.enabled_group}"
                if settings.enabled_group
                else f"every user under {settings.users_dn}"
            )
            lines.append((True, f"the per-user switch: {who}"))
        chosen = [(uid, dn) for uid, dn in people if scope.includes(uid, dn) and scope.in_pilot(uid, dn)]
        pilot = " (pilot mode: only the pilot's users)" if sources.pilot else ""
        lines.append((True, f"{len(chosen)} user(s) in scope{pilot}"))
        return lines

    def _check_subtree(self, subtree, people: list[tuple[str, str]]) -> tuple[bool, str]:
        try:
            self._check_subtrees_of((subtree,))
        except SourceError as error:
            return False, str(error)
        scope = build_scope(SourceSettings(subtrees=(subtree,)), GroupGraph({}), EVERYONE)
        return True, f"subtree {subtree.dn}: {sum(scope.includes(uid, dn) for uid, dn in people)} user(s)"

    def read_outline(self) -> Outline:
        """The OU tree under users_dn with the users in each, and the groups with the users each holds (nested
        groups followed): what the console's Sources page offers to pick from."""
        settings = self.settings
        users = self._search(settings.users_dn, settings.user_filter, ["uid"], "users_dn")
        people = [
            (uid, dn) for dn, attributes in users if (uid := _first(attributes, "uid")) and uid not in RESERVED_USERS
        ]
        units = [
            dn for dn, _ in self._search(settings.users_dn, "(objectClass=organizationalUnit)", ["1.1"], "users_dn")
        ]
        groups = self._search(
            settings.groups_dn,
            settings.group_filter,
            ["cn", "description", *MEMBER_ATTRIBUTES, *WINDOWS_GROUP_ATTRIBUTES],
            "groups_dn",
        )
        return Outline(
            units=tuple(sorted((self._unit(dn, people) for dn in units), key=lambda unit: unit.path.lower())),
            groups=self._group_counts(groups, people),
            in_scope=self._count_in_scope(groups, people),
        )

    def _count_in_scope(self, groups: list[Entry], people: list[tuple[str, str]]) -> int | None:
        try:
            scope = self._scope(groups)
        except SourceError:
            return None
        return sum(scope.includes(uid, dn) and scope.in_pilot(uid, dn) for uid, dn in people)

    def _unit(self, dn: str, people: list[tuple[str, str]]) -> OutlineUnit:
        path = (
            ous_between(f"cn=x,{dn}", self.settings.users_dn) if _dn_key(dn) != _dn_key(self.settings.users_dn) else ""
        )
        within = SourceSettings(subtrees=(Subtree(dn),))
        one_level = SourceSettings(subtrees=(Subtree(dn, sub_ous=False),))
        below = build_scope(within, GroupGraph({}), EVERYONE)
        right_below = build_scope(one_level, GroupGraph({}), EVERYONE)
        return OutlineUnit(
            dn=dn,
            path=path,
            users=sum(below.includes(uid, entry) for uid, entry in people),
            direct=sum(right_below.includes(uid, entry) for uid, entry in people),
        )

    def _group_counts(self, groups: list[Entry], people: list[tuple[str, str]]) -> tuple[OutlineGroup, ...]:
        graph = _group_graph(groups)
        counted = []
        for _dn, attributes in groups:
            name = _first(attributes, "cn")
            if not name or is_windows_group(attributes) or is_reserved_group(name, self.settings.enabled_group):
                continue  # the switch group has its own choice on the page; system groups are nobody's team
            members = graph.members_of((name,), "member_groups")
            nested = sorted(graph.nested_names((name,)) - {name.lower()})
            counted.append(
                OutlineGroup(
                    name=name,
                    description=_first(attributes, "description"),
                    users=sum(members.include(uid, entry) for uid, entry in people),
                    nested=tuple(nested),
                )
            )
        return tuple(sorted(counted, key=lambda group: group.name.lower()))

    def check_group_names(self, sync) -> list[tuple[str, str]]:
        """(key, problem) for each of ``[sync] groups`` and ``exclude_groups`` naming groups no group is called.

        A misspelt name matches nothing, silently: check says so, naming the key.
        """
        problems = []
        for key, names in (("groups", sync.groups), ("exclude_groups", sync.exclude_groups)):
            names = [name for name in names if name != "*"]
            found = self._named_groups(names) if names else {}
            missing = [name for name in names if name.lower() not in found]
            if missing:
                problems.append(
                    (
                        key,
                        (
                            f"[sync] {key} names {', '.join(missing)}, which no group under {self.settings.groups_dn} is called: "
                            "correct the names (the console's Groups page lists the directory's groups)"
                        ),
                    )
                )
            never = [
                name for name in names if name.lower() in found and not self._is_real_group(name, found[name.lower()])
            ]
            if never and key == "groups":
                problems.append(
                    (
                        key,
                        (
                            f"[sync] groups names {', '.join(never)}, which is never synchronized (allusers, guests, enabled_group, "
                            "*_plugin groups and Windows groups such as domain_users are not mailing lists): remove it from the list"
                        ),
                    )
                )
        return problems

    def _named_groups(self, names: list[str]) -> dict[str, dict]:
        """The groups under groups_dn (matching group_filter) called one of ``names``, by lower-cased name; one search."""
        settings = self.settings
        wanted = "".join(ldap.filter.filter_format("(cn=%s)", [name]) for name in names)
        entries = self._search(
            settings.groups_dn, f"(&{settings.group_filter}(|{wanted}))", ["cn", *WINDOWS_GROUP_ATTRIBUTES], "groups_dn"
        )
        return {value.lower(): attributes for _, attributes in entries for value in _texts(attributes, "cn")}

    # --- building values ------------------------------------------------------------
    def _user_attributes(self) -> list[str]:
        wanted = [
            "entryUUID",
            "uid",
            "givenName",
            "sn",
            self.settings.mail_attribute,
            *self.settings.password_attributes,
            *self.attributes.ldap_attributes,
        ]
        if self.org_units.startswith("attribute:"):
            wanted.append(self.org_units.partition(":")[2])
        wanted += [attribute for _, attribute in self.custom_attributes]
        return list(dict.fromkeys(name for name in wanted if name))

    def _group_attributes(self) -> list[str]:
        wanted = [
            "entryUUID",
            "cn",
            "description",
            *MEMBER_ATTRIBUTES,
            *WINDOWS_GROUP_ATTRIBUTES,
            self.settings.mail_attribute,
        ]
        return list(dict.fromkeys(name for name in wanted if name))

    def _user(self, dn: str, attributes: dict, scope: UserScope, locked: frozenset[str]) -> DirectoryUser | None:
        uid = _first(attributes, "uid")
        if not uid:
            log.debug("%s has no uid: not a user to synchronize", dn)
            return None
        if uid in RESERVED_USERS:
            return None
        uuid = _uuid(dn, attributes)
        password, problem = self._password(uuid, attributes)
        return DirectoryUser(
            uuid=uuid,
            dn=dn,
            uid=uid,
            given_name=_first(attributes, "givenName"),
            family_name=_first(attributes, "sn"),
            mail=_first(attributes, self.settings.mail_attribute) if self.settings.mail_attribute else "",
            in_scope=scope.includes(uid, dn),
            in_pilot=scope.in_pilot(uid, dn),
            locked=uuid in locked,
            password=password,
            password_problem=problem,
            org_unit=scope.placement(dn, self.org_units == "dn") or self._org_unit(dn, attributes),
            custom=tuple((key, tuple(_texts(attributes, attribute))) for key, attribute in self.custom_attributes),
            **self._mapped_fields(attributes),
        )

    def _org_unit(self, dn: str, attributes: dict) -> str:
        """The user's place as a relative path: its ou= RDNs below users_dn, or an attribute's value."""
        if self.org_units.startswith("attribute:"):
            return _first(attributes, self.org_units.partition(":")[2]).strip().strip("/")
        if self.org_units != "dn":
            return ""
        return ous_between(dn, self.settings.users_dn)

    def _mapped_fields(self, attributes: dict) -> dict[str, Any]:
        """The optional fields [attributes] maps, read from their LDAP attributes (aliases may be many)."""
        fields: dict[str, Any] = {
            field: _first(attributes, name)
            for field, name in vars(self.attributes).items()
            if name and field not in ("aliases", "photo")
        }
        if self.attributes.photo:  # binary: the raw bytes of its first value
            fields["photo"] = next(iter(_values(attributes, self.attributes.photo)), b"")
        if fields.get("manager"):
            fields["manager"] = _dn_key(fields["manager"])
        if self.attributes.aliases:
            fields["aliases"] = tuple(_texts(attributes, self.attributes.aliases))
        return fields

    def _password(self, uuid: str, attributes: dict) -> tuple[PasswordHash | None, str]:
        if not self.settings.password_attributes:
            return None, ""
        values = {name: _values(attributes, name) for name in self.settings.password_attributes}
        salt_key = None
        if self._cleartext_salt_key is not None:
            salt_key = hmac.new(self._cleartext_salt_key, uuid.encode("utf-8"), hashlib.sha256).digest()
        return from_directory({name: raw for name, raw in values.items() if raw}, cleartext_salt_key=salt_key)

    def _is_real_group(self, name: str, attributes: dict | None = None) -> bool:
        """Whether a group may go to Google: not reserved, not an app's switch group, not a Windows group."""
        if not name or is_reserved_group(name, self.settings.enabled_group):
            return False
        return attributes is None or not is_windows_group(attributes)

    def _enabled_group_filter(self) -> str:
        return f"(&{self.settings.group_filter}{ldap.filter.filter_format('(cn=%s)', [self.settings.enabled_group])})"

    def _scope(self, group_entries: list[Entry] | None = None) -> UserScope:
        """Who the sources include, from the groups read (read here when not given); SourceError for a source the
        directory lacks, so a misspelt or deleted subtree or group never reads as everyone leaving."""
        sources, settings = self.sources, self.settings
        self._check_subtrees()
        if group_entries is None:
            wanted = ["cn", *MEMBER_ATTRIBUTES]
            if sources.member_groups or sources.exclusion_groups or sources.pilot_source:
                group_entries = self._search(settings.groups_dn, settings.group_filter, wanted, "groups_dn")
            elif sources.uses_switch and settings.enabled_group:
                group_entries = self._search(settings.groups_dn, self._enabled_group_filter(), wanted, "groups_dn")
            else:
                group_entries = []
        switch = self._enabled_members(group_entries) if sources.uses_switch else EVERYONE
        return build_scope(sources, _group_graph(group_entries), switch)

    def _check_subtrees(self) -> None:
        self._check_subtrees_of(self.sources.subtrees)

    def _check_subtrees_of(self, subtrees) -> None:
        """Each source subtree exists: one base-scope read each."""
        for subtree in subtrees:
            try:
                self._search(subtree.dn, "(objectClass=*)", ["1.1"], "users_dn", scope=ldap.SCOPE_BASE)
            except SourceError as error:
                if not isinstance(error.__cause__, ldap.NO_SUCH_OBJECT):
                    raise
                raise SourceError(
                    f"[sources] subtrees names {subtree.dn}, which does not exist on {self.settings.uri}: "
                    "correct the DN (the console's Sources page shows the tree), or remove it"
                ) from None

    def _enabled_members(self, group_entries: list[Entry]) -> _Members | None:
        """Members of enabled_group (None: no such setting, everyone is in scope)."""
        name = self.settings.enabled_group
        if not name:
            return None
        found = [attributes for _, attributes in group_entries if _first(attributes, "cn").lower() == name.lower()]
        if not found:
            raise SourceError(
                f"enabled_group {name!r} not found under {self.settings.groups_dn} (group_filter {self.settings.group_filter}): "
                f"create it and add the users to synchronize, or set [ldap] enabled_group = (empty) to synchronize every user"
            )
        members = _Members()
        for attributes in found:
            members |= _members(attributes)
        return members

    def _read_one_user(self, search: str, label: str) -> DirectoryUser | None:
        settings = self.settings
        entries = self._search(
            settings.users_dn, f"(&{settings.user_filter}{search})", self._user_attributes(), "users_dn"
        )
        if not entries:
            return None
        if len(entries) > 1:
            raise SourceError(
                f"{len(entries)} users have {label} under {settings.users_dn}: {_dn_list(entries)}; each must be unique"
            )
        dn, attributes = entries[0]
        return self._user(dn, attributes, self._scope(), self._locked_uuids(dn, ldap.SCOPE_BASE))

    def _locked_uuids(self, base: str, scope: int) -> frozenset[str]:
        """entryUUIDs of the users matching disabled_filter: one search, not one per user."""
        settings = self.settings
        if not settings.disabled_filter:
            return frozenset()
        search = f"(&{settings.user_filter}{settings.disabled_filter})"
        entries = self._search(base, search, ["entryUUID"], "users_dn", scope=scope)
        return frozenset(_uuid(dn, attributes) for dn, attributes in entries)

    # --- LDAP ---------------------------------------------------------------------------
    def _connect(self) -> ldap.ldapobject.LDAPObject:
        if self._connection is None:
            self._open()
        return self._connection

    def _open(self) -> None:
        settings = self.settings
        with self._errors(f"connecting to {settings.uri}"):
            # Kept from the start so that a failed bind drops (unbinds) it.
            self._connection = ldap.initialize(settings.uri)
            configure_and_bind(self._connection, settings)

    def _search(
        self, base: str, search: str, attributes: list[str], base_key: str, scope: int = ldap.SCOPE_SUBTREE
    ) -> list[Entry]:
        """All entries, page by page; any failure, even on the last page, raises SourceError."""
        connection = self._connect()
        timeout = self.settings.timeout
        control = SimplePagedResultsControl(True, size=self.settings.page_size, cookie=b"")
        entries: list[Entry] = []
        with self._errors(f"reading {base}", base=base, base_key=base_key, search=search):
            while True:
                message = connection.search_ext(base, scope, search, attributes, serverctrls=[control], timeout=timeout)
                _, data, _, controls = connection.result3(message, timeout=timeout)
                entries.extend((dn, attrs) for dn, attrs in data if dn is not None)
                cookie = next((c.cookie for c in controls if c.controlType == control.controlType), b"")
                if not cookie:
                    return entries
                control.cookie = cookie

    def _any(self, base: str, search: str, base_key: str) -> bool:
        connection = self._connect()
        with self._errors(f"reading {base}", base=base, base_key=base_key, search=search):
            try:
                return bool(
                    connection.search_ext_s(
                        base, ldap.SCOPE_SUBTREE, search, ["1.1"], sizelimit=1, timeout=self.settings.timeout
                    )
                )
            except ldap.SIZELIMIT_EXCEEDED:
                return True

    @contextlib.contextmanager
    def _errors(self, action: str, base: str = "", base_key: str = "", search: str = ""):
        """Turn any LDAP failure into a SourceError that says what to do, and drop the connection."""
        try:
            yield
        except ldap.LDAPError as error:
            connection, self._connection = self._connection, None
            if connection is not None:
                with contextlib.suppress(ldap.LDAPError):
                    connection.unbind_s()
            raise SourceError(self._explain(error, action, base, base_key, search)) from error

    def _explain(self, error: ldap.LDAPError, action: str, base: str, base_key: str, search: str) -> str:
        settings = self.settings
        detail = _detail(error)
        who = settings.bind_dn or ("SASL EXTERNAL" if settings.uri.lower().startswith("ldapi://") else "anonymous")
        if isinstance(error, ldap.SERVER_DOWN):
            if "certificate" in detail.lower() or "tls" in detail.lower():
                return f"TLS with {settings.uri} failed ({detail}): {tls_help(settings.ca_file)}"
            if settings.uri.lower().startswith("ldaps://"):
                # libldap reports a refused certificate and a closed port alike.
                return (
                    f"cannot reach {settings.uri} ({detail}): is slapd running and listening there, and is its "
                    f"certificate trusted? check [ldap] uri; {tls_help(settings.ca_file)}"
                )
            return f"cannot reach {settings.uri} ({detail}): is slapd running and listening there? check [ldap] uri"
        if isinstance(error, ldap.CONNECT_ERROR):
            return f"TLS with {settings.uri} failed ({detail}): {tls_help(settings.ca_file)}, or set start_tls = no"
        if isinstance(error, (ldap.TIMEOUT, ldap.TIMELIMIT_EXCEEDED)):
            return f"{settings.uri} did not finish {action} within {settings.timeout} s: check the server, or raise [ldap] timeout"
        if isinstance(error, ldap.INVALID_CREDENTIALS):
            return (
                f"{settings.uri} refused the bind as {who}: wrong password, or no such account (invalidCredentials): "
                "check [ldap] bind_password (or bind_password_file) and bind_dn"
            )
        if isinstance(error, (ldap.INAPPROPRIATE_AUTH, ldap.AUTH_UNKNOWN, ldap.STRONG_AUTH_NOT_SUPPORTED)):
            return f"{settings.uri} refused to authenticate {who} ({detail}): SASL EXTERNAL needs ldapi:// as a user the server maps; otherwise set [ldap] bind_dn"
        if isinstance(error, (ldap.STRONG_AUTH_REQUIRED, ldap.CONFIDENTIALITY_REQUIRED)):
            return f"{settings.uri} requires an encrypted connection ({detail}): use an ldaps:// uri or start_tls = yes"
        if isinstance(error, (ldap.SIZELIMIT_EXCEEDED, ldap.ADMINLIMIT_EXCEEDED)):
            return (
                f"size limit exceeded {action} on {settings.uri}, so the read is incomplete: the sync account {who} needs "
                f"olcLimits size=unlimited and size.prtotal=unlimited, {LIMITS_HELP}"
            )
        if isinstance(error, ldap.NO_SUCH_OBJECT) and who == "anonymous":
            # slapd answers noSuchObject for what an anonymous bind may not see: existence is unknown.
            return (
                f"{base} is not visible to an anonymous bind on {settings.uri}: [ldap] bind_dn is empty, so no account was used; "
                "set bind_dn and bind_password_file (or bind_password) to the sync account"
            )
        if isinstance(error, ldap.NO_SUCH_OBJECT):
            matched = _matched(error)
            nearest = f" (the nearest entry that does is {matched})" if matched else ""
            return f"{base} does not exist on {settings.uri}{nearest}: check [ldap] {base_key} (or base_dn)"
        if isinstance(error, ldap.INSUFFICIENT_ACCESS):
            return f"{who} may not read {base or 'the directory'} on {settings.uri}: grant it read access (olcAccess)"
        if isinstance(error, ldap.FILTER_ERROR):
            return f"{settings.uri} rejected the filter {search}: check [ldap] user_filter, group_filter and disabled_filter"
        if isinstance(error, ldap.UNAVAILABLE_CRITICAL_EXTENSION):
            return f"{settings.uri} does not offer the paged results control, which reading a whole directory needs"
        return f"{action} on {settings.uri} failed: {detail}"


def configure_and_bind(connection: ldap.ldapobject.LDAPObject, settings: LdapSettings) -> None:
    """Options, TLS and bind as [ldap] says: simple bind, SASL EXTERNAL over ldapi://, or anonymous."""
    if settings.start_tls and not settings.uri.lower().startswith("ldap://"):
        raise ConfigError(
            f"[ldap] start_tls = yes needs an ldap:// uri, not {settings.uri}: ldaps:// is already encrypted"
        )
    connection.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
    connection.set_option(ldap.OPT_REFERRALS, 0)
    connection.set_option(ldap.OPT_NETWORK_TIMEOUT, settings.timeout)
    connection.set_option(ldap.OPT_TIMEOUT, settings.timeout)
    if settings.ca_file:
        _use_ca_file(connection, settings.ca_file)
    if settings.start_tls:
        connection.start_tls_s()
    if settings.bind_dn and not settings.bind_password:
        # A DN with an empty password is an unauthenticated (anonymous) bind: slapd refuses it or shows nothing.
        raise ConfigError(
            f"[ldap] bind_dn is {settings.bind_dn} but its password is empty: set bind_password_file (or bind_password); "
            "an empty password would be an anonymous bind"
        )
    if settings.bind_dn:
        connection.simple_bind_s(settings.bind_dn, settings.bind_password)
    elif settings.uri.lower().startswith("ldapi://"):
        connection.sasl_external_bind_s()
    else:
        connection.simple_bind_s("", "")


def _use_ca_file(connection: ldap.ldapobject.LDAPObject, ca_file: str) -> None:
    connection.set_option(ldap.OPT_X_TLS_CACERTFILE, ca_file)
    connection.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
    try:
        connection.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: applies the TLS options above
    except ValueError:  # libldap says only "option error": the file is gone, unreadable, or holds no certificate
        raise ConfigError(
            f"[ldap] ca_file = {ca_file}: not a readable PEM CA certificate; give the PEM file of the CA that signed the server's certificate"
        ) from None


def _matched(error: ldap.LDAPError) -> str:
    info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return str(info.get("matched", "")).strip()


def _detail(error: ldap.LDAPError) -> str:
    info = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    parts = [str(info.get("desc", "")).strip(), str(info.get("info", "")).strip()]
    return ": ".join(part for part in parts if part) or type(error).__name__


def _group(
    dn: str,
    attributes: dict,
    uid_by_dn: dict[str, str],
    mail_attribute: str,
    group_by_dn: dict[str, str] | None = None,
    known_dns: set[str] | None = None,
) -> DirectoryGroup:
    """``known_dns``: every user and group DN read, when the read covered them all; member DNs outside it name
    nothing and are reported. A read of one user's groups knows only that user, so it reports nothing."""
    members = _members(attributes)
    group_by_dn = group_by_dn or {}
    unknown = (
        ()
        if known_dns is None
        else tuple(sorted(m for m in members.dns - known_dns if not m.startswith(NO_MEMBERS_RDN)))
    )
    return DirectoryGroup(
        uuid=_uuid(dn, attributes),
        dn=dn,
        name=_first(attributes, "cn"),
        description=_first(attributes, "description"),
        mail=_first(attributes, mail_attribute) if mail_attribute else "",
        # ClearOS's placeholder member (its reserved user nomembers) is no member at all.
        member_uids=members.resolve(uid_by_dn) - {NO_MEMBERS_UID},
        member_groups=frozenset(group_by_dn[member] for member in members.dns if member in group_by_dn),
        unknown_member_dns=unknown,
    )


def _members(attributes: dict) -> _Members:
    return _Members(
        uids=frozenset(value for value in _texts(attributes, "memberUid") if value),
        # uniqueMember (groupOfUniqueNames) may end in an optional "#'…'B" unique identifier.
        dns=frozenset(
            _dn_key(value)
            for value in (*_texts(attributes, "member"), *(v.split("#")[0] for v in _texts(attributes, "uniqueMember")))
        ),
    )


def _group_graph(group_entries: list[Entry]) -> GroupGraph:
    return GroupGraph(
        {
            name.lower(): (_dn_key(dn), _members(attributes))
            for dn, attributes in group_entries
            if (name := _first(attributes, "cn"))
        }
    )


def _uid_by_dn(user_entries: list[Entry]) -> dict[str, str]:
    return {_dn_key(dn): uid for dn, attributes in user_entries if (uid := _first(attributes, "uid"))}


def _dn_key(dn: str) -> str:
    """A DN in one spelling, so member values compare with entry DNs."""
    try:
        return ldap.dn.dn2str(ldap.dn.str2dn(dn)).lower()
    except ldap.DECODING_ERROR:
        return dn.lower()


def _uuid(dn: str, attributes: dict) -> str:
    uuid = _first(attributes, "entryUUID")
    if not uuid:
        raise SourceError(
            f"{dn} has no entryUUID: the sync account must be allowed to read it (an OpenLDAP operational attribute)"
        )
    return uuid.lower()


def _values(attributes: dict, name: str) -> list[bytes]:
    """Raw values of ``name``, whatever the case the server spelled it in."""
    lowered = name.lower()
    return [value for key, values in attributes.items() if key.lower() == lowered for value in values]


def _texts(attributes: dict, name: str) -> list[str]:
    return [value.decode("utf-8", "replace").strip() for value in _values(attributes, name)]


def is_windows_group(attributes: dict) -> bool:
    """A Samba well-known group (by its sambaSID), or, without a SID, one of ClearOS's Windows groups (by gidNumber)."""
    sid = _first(attributes, "sambaSID").upper()
    if sid:
        rid = sid.rpartition("-")[2]
        return sid.startswith(BUILTIN_SID_PREFIX) or (rid.isdigit() and int(rid) < FIRST_ORDINARY_RID)
    gid = _first(attributes, "gidNumber")
    return gid.isdigit() and int(gid) in CLEAROS_WINDOWS_GIDS


def _first(attributes: dict, name: str) -> str:
    texts = _texts(attributes, name)
    return texts[0] if texts else ""


def _dn_list(entries: list[Entry]) -> str:
    return "; ".join(dn for dn, _ in entries)
