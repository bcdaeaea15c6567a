"""The host's account library: ClearOS-style users and groups kept in OpenLDAP.

Layout (as the ClearOS account manager writes it):

- users live in ``ou=Users,ou=Accounts,<base>`` under the RDN ``cn=<first> <last>``
  with the object classes posixAccount, shadowAccount, inetOrgPerson and
  clearAccount; the password is stored twice, ``userPassword`` as ``{SHA}``
  base64 and ``clearSHA1Password`` as hex SHA-1;
- groups live in ``ou=Groups,ou=Accounts,<base>`` as posixGroup with
  ``memberUid``; a group that also keeps ``member`` DNs gets them maintained
  too, with the placeholder ``cn=No Members,…`` when it has none;
- a locked account has ``shadowExpire: 1``.

No Flask here: the console's views call this, and so could a script.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Iterable

import ldap
import ldap.dn
import ldap.filter
import ldap.modlist
from ldap.controls import SimplePagedResultsControl

USER_CLASSES = ("top", "posixAccount", "shadowAccount", "inetOrgPerson", "clearAccount")
GROUP_CLASSES = ("top", "posixGroup")
ALL_USERS_GROUP = "allusers"  # every account's primary group on ClearOS
ALL_USERS_GID = 63000
FIRST_UID_NUMBER = 1000
FIRST_GID_NUMBER, LAST_GID_NUMBER = 50000, 59999
NO_MEMBERS_RDN = "cn=No Members"
PAGE_SIZE = 500
USER_ATTRS = ["uid", "cn", "givenName", "sn", "mail", "shadowExpire", "entryUUID"]
GROUP_ATTRS = ["cn", "description", "gidNumber", "memberUid", "member"]
DAY = 86400


class AccountError(ValueError):
    """A request the directory cannot satisfy, worded for the administrator."""


class NotFound(AccountError):
    pass


class AlreadyExists(AccountError):
    pass


@dataclasses.dataclass(frozen=True)
class User:
    dn: str
    uid: str
    given_name: str
    family_name: str
    mail: str
    locked: bool
    uuid: str
    groups: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        return full_name(self.given_name, self.family_name)


@dataclasses.dataclass(frozen=True)
class Group:
    dn: str
    name: str
    description: str
    gid_number: int | None
    members: tuple[str, ...]
    keeps_member_dns: bool


@dataclasses.dataclass(frozen=True)
class NewUser:
    uid: str
    given_name: str
    family_name: str
    mail: str
    password: str | None = dataclasses.field(repr=False)  # None: no password until one is set
    groups: tuple[str, ...] = ()


def full_name(given_name: str, family_name: str) -> str:
    return " ".join(part for part in (given_name, family_name) if part)


def password_attributes(cleartext: str) -> dict[str, str]:
    """The password attributes ClearOS writes: ``{SHA}`` base64, hex SHA-1 and the change day."""
    digest = hashlib.sha1(cleartext.encode("utf-8"))
    return {
        "userPassword": "{SHA}" + base64.b64encode(digest.digest()).decode("ascii"),
        "clearSHA1Password": digest.hexdigest(),
        "shadowLastChange": str(int(time.time() // DAY)),
    }


def _encode(values: Iterable[str] | str) -> list[bytes]:
    if isinstance(values, str):
        values = [values]
    return [value.encode("utf-8") for value in values]


def _first(entry: dict[str, list[bytes]], name: str, default: str = "") -> str:
    values = entry.get(name)
    return values[0].decode("utf-8") if values else default


def _all(entry: dict[str, list[bytes]], name: str) -> list[str]:
    return [value.decode("utf-8") for value in entry.get(name, [])]


def _same_dn(first: str, second: str) -> bool:
    return _normal_dn(first) == _normal_dn(second)


def _normal_dn(dn: str) -> str:
    return ldap.dn.dn2str(ldap.dn.str2dn(dn)).lower()


def _is_locked(entry: dict[str, list[bytes]]) -> bool:
    expire = _first(entry, "shadowExpire")
    return expire.lstrip("-").isdigit() and 0 <= int(expire) <= time.time() // DAY


class AccountDirectory:
    """Users and groups of one ClearOS-style directory, over one lazily opened connection."""

    def __init__(self, uri: str, bind_dn: str, bind_password: str, base_dn: str, timeout: float = 10):
        self.uri = uri
        self.bind_dn = bind_dn
        self.base_dn = base_dn
        self.users_dn = f"ou=Users,ou=Accounts,{base_dn}"
        self.groups_dn = f"ou=Groups,ou=Accounts,{base_dn}"
        self._bind_password = bind_password
        self._timeout = timeout
        self._connection: ldap.ldapobject.LDAPObject | None = None

    # --- connection -------------------------------------------------------
    @property
    def connection(self) -> ldap.ldapobject.LDAPObject:
        if self._connection is None:
            connection = ldap.initialize(self.uri)
            connection.protocol_version = ldap.VERSION3
            connection.set_option(ldap.OPT_REFERRALS, 0)
            connection.set_option(ldap.OPT_NETWORK_TIMEOUT, self._timeout)
            connection.set_option(ldap.OPT_TIMEOUT, self._timeout)
            connection.simple_bind_s(self.bind_dn, self._bind_password)
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(ldap.LDAPError):
                self._connection.unbind_s()
            self._connection = None

    def _search(self, base: str, filterstr: str, attrs: list[str], scope: int = ldap.SCOPE_ONELEVEL):
        """Every matching entry, page by page (a size limit must not truncate the console's lists)."""
        control = SimplePagedResultsControl(True, size=PAGE_SIZE, cookie=b"")
        found: list[tuple[str, dict[str, list[bytes]]]] = []
        while True:
            msgid = self.connection.search_ext(base, scope, filterstr, attrs, serverctrls=[control])
            _, entries, _, controls = self.connection.result3(msgid)
            found.extend((dn, entry) for dn, entry in entries if dn)
            cookie = next((c.cookie for c in controls if c.controlType == SimplePagedResultsControl.controlType), b"")
            if not cookie:
                return found
            control.cookie = cookie

    # --- reading ----------------------------------------------------------
    def users(self) -> list[User]:
        memberships = self._memberships()
        entries = self._search(self.users_dn, "(objectClass=posixAccount)", USER_ATTRS)
        users = [self._user(dn, entry, memberships) for dn, entry in entries]
        return sorted(users, key=lambda user: user.uid)

    def user(self, uid: str) -> User:
        dn, entry = self._user_entry(uid)
        return self._user(dn, entry, self._memberships(uid))

    def uid_taken(self, uid: str) -> bool:
        return bool(self._search(self.users_dn, ldap.filter.filter_format("(uid=%s)", [uid]), ["1.1"]))

    def _user_entry(self, uid: str) -> tuple[str, dict[str, list[bytes]]]:
        found = self._search(
            self.users_dn, ldap.filter.filter_format("(&(objectClass=posixAccount)(uid=%s))", [uid]), USER_ATTRS
        )
        if not found:
            raise NotFound(f"There is no user {uid!r}.")
        return found[0]

    def _user(self, dn: str, entry: dict[str, list[bytes]], memberships: dict[str, list[str]]) -> User:
        uid = _first(entry, "uid")
        return User(
            dn=dn,
            uid=uid,
            given_name=_first(entry, "givenName"),
            family_name=_first(entry, "sn"),
            mail=_first(entry, "mail"),
            locked=_is_locked(entry),
            uuid=_first(entry, "entryUUID"),
            groups=tuple(sorted(memberships.get(uid, ()))),
        )

    def _memberships(self, uid: str | None = None) -> dict[str, list[str]]:
        """uid -> names of the groups that list it in memberUid (only ``uid``'s when given)."""
        filterstr = ldap.filter.filter_format("(memberUid=%s)", [uid]) if uid else "(memberUid=*)"
        memberships: dict[str, list[str]] = {}
        for _, entry in self._search(self.groups_dn, filterstr, ["cn", "memberUid"]):
            for member in _all(entry, "memberUid"):
                if uid is None or member == uid:
                    memberships.setdefault(member, []).append(_first(entry, "cn"))
        return memberships

    def groups(self) -> list[Group]:
        entries = self._search(self.groups_dn, "(objectClass=posixGroup)", GROUP_ATTRS)
        return sorted((self._group(dn, entry) for dn, entry in entries), key=lambda group: group.name.lower())

    def group(self, name: str) -> Group:
        return self._group(*self._group_entry(name))

    def group_exists(self, name: str) -> bool:
        return bool(self._search(self.groups_dn, ldap.filter.filter_format("(cn=%s)", [name]), ["1.1"]))

    def _group_entry(self, name: str) -> tuple[str, dict[str, list[bytes]]]:
        found = self._search(
            self.groups_dn, ldap.filter.filter_format("(&(objectClass=posixGroup)(cn=%s))", [name]), GROUP_ATTRS
        )
        if not found:
            raise NotFound(f"There is no group {name!r}.")
        return found[0]

    @staticmethod
    def _group(dn: str, entry: dict[str, list[bytes]]) -> Group:
        gid = _first(entry, "gidNumber")
        return Group(
            dn=dn,
            name=_first(entry, "cn"),
            description=_first(entry, "description"),
            gid_number=int(gid) if gid.isdigit() else None,
            members=tuple(sorted(_all(entry, "memberUid"))),
            keeps_member_dns="member" in entry,
        )

    # --- users --------------------------------------------------------------
    def add_user(self, new: NewUser) -> User:
        if self.uid_taken(new.uid):
            raise AlreadyExists(f"The username {new.uid!r} is already taken.")
        cn = full_name(new.given_name, new.family_name)
        dn = self._user_dn(cn)
        attrs = {
            "objectClass": list(USER_CLASSES),
            "uid": new.uid,
            "cn": cn,
            "givenName": new.given_name,
            "sn": new.family_name,
            "uidNumber": str(self._next_uid_number()),
            "gidNumber": str(ALL_USERS_GID),
            "homeDirectory": f"/home/{new.uid}",
            "loginShell": "/sbin/nologin",
            "clearAccountStatus": "enabled",
            **(password_attributes(new.password) if new.password is not None else {}),
        }
        if new.mail:
            attrs["mail"] = new.mail
        try:
            self.connection.add_s(dn, ldap.modlist.addModlist({name: _encode(value) for name, value in attrs.items()}))
        except ldap.ALREADY_EXISTS:
            raise AlreadyExists(f"A user named {cn!r} already exists: the full name must be unique.") from None
        groups = set(new.groups)
        if self.group_exists(ALL_USERS_GROUP):
            groups.add(ALL_USERS_GROUP)
        for group in sorted(groups):
            self.add_member(group, new.uid)
        return self.user(new.uid)

    def update_user(self, uid: str, given_name: str, family_name: str, mail: str) -> bool:
        """Change names and mail; a new full name renames the entry, like ClearOS. True if anything changed."""
        dn, entry = self._user_entry(uid)
        cn = full_name(given_name, family_name)
        wanted = {"givenName": given_name, "sn": family_name, "mail": mail}
        changes = [
            (ldap.MOD_REPLACE, name, _encode(value) if value else None)
            for name, value in wanted.items()
            if value != _first(entry, name) and (value or name in entry)
        ]
        renamed = cn != _first(entry, "cn")
        if renamed:
            dn = self._rename_user(dn, cn)
        if changes:
            self.connection.modify_s(dn, changes)
        return renamed or bool(changes)

    def _rename_user(self, old_dn: str, cn: str) -> str:
        new_rdn = f"cn={ldap.dn.escape_dn_chars(cn)}"
        new_dn = f"{new_rdn},{self.users_dn}"
        try:
            self.connection.rename_s(old_dn, new_rdn, delold=1)
        except ldap.ALREADY_EXISTS:
            raise AlreadyExists(f"A user named {cn!r} already exists: the full name must be unique.") from None
        for group_dn, _ in self._groups_with_member_dn(old_dn):
            self.connection.modify_s(
                group_dn,
                [
                    (ldap.MOD_DELETE, "member", _encode(old_dn)),
                    (ldap.MOD_ADD, "member", _encode(new_dn)),
                ],
            )
        return new_dn

    def set_password(self, uid: str, cleartext: str) -> None:
        dn, _ = self._user_entry(uid)
        attrs = password_attributes(cleartext)
        changes = [(ldap.MOD_REPLACE, name, _encode(value)) for name, value in attrs.items()]
        current = self._search(dn, "(objectClass=*)", ["clearMicrosoftNTPassword"], scope=ldap.SCOPE_BASE)
        if current and "clearMicrosoftNTPassword" in current[0][1]:
            # This host cannot compute NT hashes (MD4); a stale one would keep the old password valid.
            changes.append((ldap.MOD_REPLACE, "clearMicrosoftNTPassword", None))
        self.connection.modify_s(dn, changes)

    def set_locked(self, uid: str, locked: bool) -> bool:
        """Lock (``shadowExpire: 1``) or unlock an account; True if its state changed."""
        dn, entry = self._user_entry(uid)
        if _is_locked(entry) == locked:
            return False
        self.connection.modify_s(
            dn,
            [
                (ldap.MOD_REPLACE, "shadowExpire", _encode("1") if locked else None),
                (ldap.MOD_REPLACE, "clearAccountStatus", _encode("disabled" if locked else "enabled")),
            ],
        )
        return True

    def delete_user(self, uid: str) -> str:
        """Remove the user from every group, then delete it; returns its entryUUID."""
        dn, entry = self._user_entry(uid)
        for group in self._memberships(uid).get(uid, []):
            self.remove_member(group, uid)
        for group_dn, _ in self._groups_with_member_dn(dn):
            self._drop_member_dn(group_dn, dn)
        self.connection.delete_s(dn)
        return _first(entry, "entryUUID")

    def set_user_groups(self, uid: str, wanted: Iterable[str], among: Iterable[str]) -> tuple[list[str], list[str]]:
        """Make ``uid`` a member of exactly the ``wanted`` groups out of ``among``; returns (joined, left)."""
        among = set(among)
        wanted = set(wanted) & among
        current = set(self.user(uid).groups) & among
        joined, left = sorted(wanted - current), sorted(current - wanted)
        for group in joined:
            self.add_member(group, uid)
        for group in left:
            self.remove_member(group, uid)
        return joined, left

    def _user_dn(self, cn: str) -> str:
        return f"cn={ldap.dn.escape_dn_chars(cn)},{self.users_dn}"

    def _next_uid_number(self) -> int:
        numbers = [
            int(n)
            for _, e in self._search(self.users_dn, "(uidNumber=*)", ["uidNumber"])
            if (n := _first(e, "uidNumber")).isdigit()
        ]
        return max([FIRST_UID_NUMBER - 1, *numbers]) + 1

    # --- groups -------------------------------------------------------------
    def add_group(self, name: str, description: str = "") -> Group:
        if self.group_exists(name):
            raise AlreadyExists(f"A group named {name!r} already exists.")
        attrs = {"objectClass": list(GROUP_CLASSES), "cn": name, "gidNumber": str(self._next_gid_number())}
        if description:
            attrs["description"] = description
        dn = f"cn={ldap.dn.escape_dn_chars(name)},{self.groups_dn}"
        try:
            self.connection.add_s(dn, ldap.modlist.addModlist({key: _encode(value) for key, value in attrs.items()}))
        except ldap.ALREADY_EXISTS:
            raise AlreadyExists(f"A group named {name!r} already exists.") from None
        return self.group(name)

    def ensure_group(self, name: str, description: str = "") -> bool:
        """Create ``name`` unless it exists; True if it was created."""
        if self.group_exists(name):
            return False
        self.add_group(name, description)
        return True

    def update_group(self, name: str, description: str) -> bool:
        dn, entry = self._group_entry(name)
        if description == _first(entry, "description"):
            return False
        value = _encode(description) if description else None
        if value is None and "description" not in entry:
            return False
        self.connection.modify_s(dn, [(ldap.MOD_REPLACE, "description", value)])
        return True

    def delete_group(self, name: str) -> tuple[str, ...]:
        """Delete a group; returns the uids that were its members."""
        group = self.group(name)
        self.connection.delete_s(group.dn)
        return group.members

    def set_members(self, name: str, uids: Iterable[str]) -> tuple[list[str], list[str]]:
        """Make the group's members exactly ``uids``; returns (added, removed)."""
        current = set(self.group(name).members)
        wanted = set(uids)
        added, removed = sorted(wanted - current), sorted(current - wanted)
        for uid in added:
            self.add_member(name, uid)
        for uid in removed:
            self.remove_member(name, uid)
        return added, removed

    def add_member(self, name: str, uid: str) -> None:
        dn, entry = self._group_entry(name)
        if uid in _all(entry, "memberUid"):
            return
        changes = [(ldap.MOD_ADD, "memberUid", _encode(uid))]
        if "member" in entry:
            changes.append((ldap.MOD_ADD, "member", _encode(self._user_entry(uid)[0])))
            placeholder = self._no_members_dn
            changes.extend(
                (ldap.MOD_DELETE, "member", _encode(m)) for m in _all(entry, "member") if _same_dn(m, placeholder)
            )
        self.connection.modify_s(dn, changes)

    def remove_member(self, name: str, uid: str) -> None:
        dn, entry = self._group_entry(name)
        if uid not in _all(entry, "memberUid"):
            return
        self.connection.modify_s(dn, [(ldap.MOD_DELETE, "memberUid", _encode(uid))])
        user_dn = self._search(self.users_dn, ldap.filter.filter_format("(uid=%s)", [uid]), ["1.1"])
        if user_dn and "member" in entry:
            self._drop_member_dn(dn, user_dn[0][0])

    @property
    def _no_members_dn(self) -> str:
        return f"{NO_MEMBERS_RDN},{self.users_dn}"  # where ClearOS puts it: its reserved user nomembers

    def _groups_with_member_dn(self, user_dn: str):
        return self._search(self.groups_dn, ldap.filter.filter_format("(member=%s)", [user_dn]), ["member"])

    def _drop_member_dn(self, group_dn: str, user_dn: str) -> None:
        found = self._search(group_dn, "(objectClass=*)", ["member"], scope=ldap.SCOPE_BASE)
        members = _all(found[0][1], "member") if found else []
        matching = [member for member in members if _same_dn(member, user_dn)]
        if not matching:
            return
        changes = [(ldap.MOD_DELETE, "member", _encode(matching))]
        if len(matching) == len(members):  # groupOfNames-style groups must keep one member
            changes.append((ldap.MOD_ADD, "member", _encode(self._no_members_dn)))
        self.connection.modify_s(group_dn, changes)

    def _next_gid_number(self) -> int:
        numbers = [
            int(n)
            for _, e in self._search(self.groups_dn, "(gidNumber=*)", ["gidNumber"])
            if (n := _first(e, "gidNumber")).isdigit() and FIRST_GID_NUMBER <= int(n) <= LAST_GID_NUMBER
        ]
        return max([FIRST_GID_NUMBER - 1, *numbers]) + 1
