"""A throwaway ClearOS-like OpenLDAP server for tests, the embedded demo and benchmarks.

``DemoDirectory`` is a python-ldap ``slapdtest.SlapdObject`` that starts a real
slapd in a temporary directory with the schemas a ClearOS server has (core,
cosine, inetorgperson, nis and a stand-in for ClearOS's ``clearAccount``), the
syncprov overlay, a configurable size limit and a non-root service account
``cn=sync,ou=Internal,<base>`` that reads the directory the way the sync tool
does on a real server. Its helpers write users and groups the way the ClearOS
user manager does.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import ldap
import ldap.dn
import ldap.filter
import ldap.modlist
import slapdtest  # imported before ldap on purpose: it switches off ~/.ldaprc and ldap.conf

from app_google_sync.libraries.settings.config import LdapSettings

HERE = Path(__file__).resolve().parent
CLEAROS_SCHEMA = HERE / "clearos-schema.ldif"
SAMBA_SCHEMA = HERE / "samba-schema.ldif"  # the group mapping of ClearOS's Windows groups
STANDARD_SCHEMAS = ("core.ldif", "cosine.ldif", "inetorgperson.ldif", "nis.ldif", "misc.ldif")

# What deploy/sync-account-limits.ldif grants the sync account on a real server.
DEPLOY_LIMITS = "size=unlimited size.prtotal=unlimited"


def paged_only_limits(size_limit: int | str) -> str:
    """Limits under which only paged searches may go past ``size_limit``: proves a reader pages.

    Soft and hard are spelled out because a limits rule copies the ones it leaves
    out from the database at the time it is parsed, which differs between
    start-up and a live change.
    """
    return f"size.soft={size_limit} size.hard={size_limit} size.prtotal=unlimited"


CLEAROS_GID = 63000  # ClearOS's allusers group: every account's primary group
FIRST_UID_NUMBER = 1000
FIRST_GROUP_GID = 50000
NO_MEMBERS_RDN = "cn=No Members"
UNSALTED_DIGESTS = {"{SHA}": "sha1", "{MD5}": "md5"}
SALTED_DIGESTS = {"{SSHA}": "sha1", "{SMD5}": "md5"}
CRYPT_SALT_FORMATS = {"$1$": "$1$%.8s", "$5$": "$5$%.16s", "$6$": "$6$%.16s", "DES": "%.2s"}

GLOBAL_CONFIG = r"""dn: cn=config
objectClass: olcGlobal
cn: config
olcServerID: %(serverid)s
olcLogLevel: %(loglevel)s
olcAuthzRegexp: {0}"gidnumber=%(root_gid)s\+uidnumber=%(root_uid)s,cn=peercred,cn=external,cn=auth" "%(rootdn)s"
olcTLSCACertificateFile: %(cafile)s
olcTLSCertificateFile: %(servercert)s
olcTLSCertificateKeyFile: %(serverkey)s
olcTLSVerifyClient: never

dn: cn=module,cn=config
objectClass: olcModuleList
cn: module
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcRootDN: %(rootdn)s
"""

# Loaded after the schemas: the ACLs and indexes name nis and clearAccount attributes.
DATABASE_CONFIG = r"""dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: %(suffix)s
olcRootDN: %(rootdn)s
olcRootPW: %(rootpw)s
olcDbDirectory: %(directory)s
olcDbMaxSize: 1073741824
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: uid,memberUid,member,cn eq
%(sync_index)solcSizeLimit: %(size_limit)s
%(limits)solcAccess: {0}to attrs=userPassword,clearSHA1Password,clearMicrosoftNTPassword
  by dn.exact="%(sync_dn)s" read by self write by anonymous auth by * none
olcAccess: {1}to * by dn.exact="%(sync_dn)s" read by users read by * none
"""

# The same overlay deploy/syncprov.ldif adds to a real server.
SYNCPROV_CONFIG = r"""dn: cn=module{1},cn=config
objectClass: olcModuleList
cn: module{1}
olcModuleLoad: syncprov

dn: olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {0}syncprov
olcSpCheckpoint: 100 10
olcSpSessionLog: 1000
"""

# ClearOS locks an account through the password policy overlay (pwdAccountLockedTime); with no
# default policy configured, the overlay only defines its attributes and enforces nothing.
PPOLICY_CONFIG = r"""dn: olcOverlay=ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: ppolicy
"""


def hash_password(cleartext: str, scheme: str = "{SHA}") -> str:
    """``cleartext`` as an OpenLDAP ``userPassword`` value in ``scheme``.

    Schemes: ``{SHA}``, ``{SSHA}``, ``{MD5}``, ``{SMD5}``, ``{CLEARTEXT}`` (stored as
    is) and ``{CRYPT}`` (SHA-512 crypt), or ``{CRYPT}$1$``, ``{CRYPT}$5$``,
    ``{CRYPT}$6$``, ``{CRYPT}DES`` to choose the crypt(3) algorithm.
    """
    secret = cleartext.encode("utf-8")
    upper = scheme.upper()
    if upper == "{CLEARTEXT}":
        return cleartext
    if upper in UNSALTED_DIGESTS:
        digest = hashlib.new(UNSALTED_DIGESTS[upper], secret).digest()
        return upper + base64.b64encode(digest).decode("ascii")
    if upper in SALTED_DIGESTS:
        salt = os.urandom(8)
        digest = hashlib.new(SALTED_DIGESTS[upper], secret + salt).digest()
        return upper + base64.b64encode(digest + salt).decode("ascii")
    if upper.startswith("{CRYPT}"):
        algorithm = scheme[len("{CRYPT}") :] or "$6$"
        if algorithm not in CRYPT_SALT_FORMATS:
            raise ValueError(f"unknown crypt algorithm {algorithm!r}: use one of {', '.join(CRYPT_SALT_FORMATS)}")
        return _slappasswd_crypt(cleartext, CRYPT_SALT_FORMATS[algorithm])
    raise ValueError(f"unknown password scheme {scheme!r}")


def _slappasswd_crypt(cleartext: str, salt_format: str) -> str:
    # slappasswd rather than the crypt module, which Python 3.13 removes.
    done = subprocess.run(
        ["slappasswd", "-h", "{CRYPT}", "-c", salt_format, "-s", cleartext],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PATH": slapdtest.SlapdObject.SBIN_PATH},
    )
    return done.stdout.strip()


def sha1_hex(cleartext: str) -> str:
    return hashlib.sha1(cleartext.encode("utf-8")).hexdigest()


def _values(value) -> list[bytes]:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_value(item) for item in value]
    return [_value(value)]


def _value(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


class DemoDirectory(slapdtest.SlapdObject):
    """A ClearOS-like slapd with a sync service account, syncprov and a size limit.

    Use as a context manager, or ``start()`` / ``stop()``. ``sync_limits`` is the
    ``olcLimits`` clause for the sync account (``DEPLOY_LIMITS`` by default,
    ``paged_only_limits(size_limit)``, or ``""`` for none, so the size limit bites).
    ``syncprov=False`` leaves the overlay out, to try ``deploy/syncprov.ldif``.
    """

    TMPDIR = tempfile.gettempdir()
    slapd_loglevel = "none"
    root_cn = "Manager"
    root_pw = "demo-root-password"
    sync_password = "demo-sync-password"

    def __init__(
        self,
        suffix: str = "dc=example,dc=com",
        size_limit: int | str = 500,
        sync_limits: str = DEPLOY_LIMITS,
        log_level: str = "none",
        syncprov: bool = True,
    ):
        super().__init__()
        self.suffix = suffix
        self.size_limit = size_limit
        self.sync_limits = sync_limits
        self.syncprov = syncprov
        self.slapd_loglevel = log_level
        self._configured = (size_limit, sync_limits)
        self._ldaps_port = self._avail_tcp_port()
        self.ldaps_uri = f"ldaps://{self.local_host}:{self._ldaps_port}"
        self._admin: ldap.ldapobject.LDAPObject | None = None
        self._next_uid_number = FIRST_UID_NUMBER
        self._next_gid_number = FIRST_GROUP_GID

    # --- the tree -------------------------------------------------------
    @property
    def accounts_dn(self) -> str:
        return f"ou=Accounts,{self.suffix}"

    @property
    def users_dn(self) -> str:
        return f"ou=Users,{self.accounts_dn}"

    @property
    def groups_dn(self) -> str:
        return f"ou=Groups,{self.accounts_dn}"

    @property
    def internal_dn(self) -> str:
        return f"ou=Internal,{self.suffix}"

    @property
    def sync_dn(self) -> str:
        return f"cn=sync,{self.internal_dn}"

    @property
    def no_members_dn(self) -> str:
        """ClearOS's placeholder member of empty groups: the DN of its reserved user nomembers."""
        return f"{NO_MEMBERS_RDN},{self.users_dn}"

    @property
    def uri(self) -> str:
        return self.ldap_uri.rstrip("/")

    def settings(self, **overrides) -> LdapSettings:
        """Settings that read this directory as the sync account over ldap://."""
        settings = LdapSettings(
            uri=self.uri,
            bind_dn=self.sync_dn,
            bind_password=self.sync_password,
            base_dn=self.suffix,
            users_dn=self.users_dn,
            groups_dn=self.groups_dn,
        )
        return dataclasses.replace(settings, **overrides)

    # --- slapd life cycle -------------------------------------------------
    def gen_config(self) -> str:
        return GLOBAL_CONFIG % self._config_values()

    def _config_values(self) -> dict[str, object]:
        limits = f'olcLimits: {{0}}dn.exact="{self.sync_dn}" {self.sync_limits}\n' if self.sync_limits else ""
        return {
            "serverid": hex(self.server_id),
            "loglevel": self.slapd_loglevel,
            "root_uid": os.getuid(),
            "root_gid": os.getgid(),
            "rootdn": self.root_dn,
            "rootpw": self.root_pw,
            "cafile": self.cafile,
            "servercert": self.servercert,
            "serverkey": self.serverkey,
            "suffix": self.suffix,
            "directory": self._db_directory,
            "size_limit": self.size_limit,
            "limits": limits,
            "sync_dn": self.sync_dn,
            # deploy/syncprov.ldif adds this index itself: a stock server lacks it.
            "sync_index": "olcDbIndex: entryUUID,entryCSN eq\n" if self.syncprov else "",
        }

    def _write_config(self):
        # One slapadd run: the database comes after the schemas its ACLs and indexes name.
        schemas = [Path(self.SCHEMADIR, name) for name in STANDARD_SCHEMAS] + [CLEAROS_SCHEMA, SAMBA_SCHEMA]
        parts = [self.gen_config()] + [path.read_text(encoding="utf-8") for path in schemas]
        parts.append(DATABASE_CONFIG % self._config_values())
        if self.syncprov:
            parts.append(SYNCPROV_CONFIG)
        parts.append(PPOLICY_CONFIG)
        self.slapadd("\n".join(part.strip() + "\n" for part in parts), ["-n0"])

    def _start_slapd(self):
        # slapdtest listens on ldap:// and ldapi:// only; this adds ldaps://.
        urls = " ".join(url for url in (self.ldap_uri, self.ldaps_uri, self.ldapi_uri) if url)
        self._proc = subprocess.Popen([self.PATH_SLAPD, "-F", self._slapd_conf, "-h", urls, "-d", "0"])
        deadline = time.monotonic() + 10
        while True:
            if self._proc.poll() is not None:
                self._stopped()
                raise RuntimeError("slapd exited before opening its port")
            try:
                self.ldapwhoami()
                return
            except RuntimeError:
                if time.monotonic() >= deadline:
                    raise RuntimeError("slapd did not start within 10 s") from None
                time.sleep(0.05)

    def start(self):
        fresh = self._proc is None  # slapdtest then starts over from an empty run directory
        super().start()
        if fresh:
            self._next_uid_number, self._next_gid_number = FIRST_UID_NUMBER, FIRST_GROUP_GID
            self._create_tree()
        return self

    def stop(self):
        self._drop_admin()
        super().stop()

    def stop_server(self) -> None:
        """Stop slapd but keep its data, to play "LDAP is down"."""
        self._drop_admin()
        if self._proc is not None:
            self.terminate()
            self.wait()

    def restart_server(self) -> None:
        """Start slapd again after ``stop_server()``, with the same data."""
        if self._proc is None:
            self.resume()

    @property
    def pid(self) -> int | None:
        """slapd's process id, to pause it (SIGSTOP) and play a server that hangs."""
        return self._proc.pid if self._proc is not None else None

    def set_sync_limits(self, limits: str) -> None:
        """Replace the sync account's ``olcLimits`` clause on the running server ("" removes it)."""
        value = [_value(f'dn.exact="{self.sync_dn}" {limits}')] if limits else None
        if value is None and not self.sync_limits:
            return  # cn=config refuses to delete a value it does not have
        self.admin().modify_s("olcDatabase={1}mdb,cn=config", [(ldap.MOD_REPLACE, "olcLimits", value)])
        self.sync_limits = limits

    def set_size_limit(self, size_limit: int | str) -> None:
        """Change the database's size limit on the running server."""
        self.admin().modify_s(
            "olcDatabase={1}mdb,cn=config", [(ldap.MOD_REPLACE, "olcSizeLimit", [_value(size_limit)])]
        )
        self.size_limit = size_limit

    def set_password_hash(self, scheme: str = "{CRYPT}", crypt_salt_format: str = "$6$%.16s") -> None:
        """How slapd hashes passwords it is given in cleartext (ldappasswd, the password modify operation).

        ``{CRYPT}`` with ``$6$%.16s`` is what deploy/password-hash.ldif sets on a real server so
        that passwords can be synchronized to Google; slapd's own default is ``{SSHA}``.
        """
        admin = self.admin()
        admin.modify_s("olcDatabase={-1}frontend,cn=config", [(ldap.MOD_REPLACE, "olcPasswordHash", [_value(scheme)])])
        admin.modify_s("cn=config", [(ldap.MOD_REPLACE, "olcPasswordCryptSaltFormat", [_value(crypt_salt_format)])])

    # --- administration -----------------------------------------------------
    def admin(self) -> ldap.ldapobject.LDAPObject:
        """A connection bound as the rootDN (which ignores every limit)."""
        if self._admin is None:
            connection = ldap.initialize(self.ldap_uri)
            connection.protocol_version = ldap.VERSION3
            connection.set_option(ldap.OPT_NETWORK_TIMEOUT, 10)
            connection.set_option(ldap.OPT_TIMEOUT, 10)
            connection.simple_bind_s(self.root_dn, self.root_pw)
            self._admin = connection
        return self._admin

    def _drop_admin(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(ldap.LDAPError):
                self._admin.unbind_s()
            self._admin = None

    def add_entry(self, dn: str, attrs: dict[str, object]) -> str:
        entry = {name: _values(value) for name, value in attrs.items() if value not in (None, "", (), [])}
        self.admin().add_s(dn, ldap.modlist.addModlist(entry))
        return dn

    def _create_tree(self) -> None:
        self.add_entry(
            self.suffix,
            {
                "objectClass": ["top", "dcObject", "organization"],
                "dc": ldap.dn.str2dn(self.suffix)[0][0][1],
                "o": "Example Organisation",
            },
        )
        for dn in (self.accounts_dn, self.users_dn, self.groups_dn, self.internal_dn):
            self.add_entry(dn, {"objectClass": ["top", "organizationalUnit"], "ou": ldap.dn.str2dn(dn)[0][0][1]})
        self.add_entry(
            self.sync_dn,
            {
                "objectClass": ["top", "applicationProcess", "simpleSecurityObject"],
                "cn": "sync",
                "description": "Service account of app-google-sync: reads users and groups",
                "userPassword": hash_password(self.sync_password, "{SSHA}"),
            },
        )

    def reset(self) -> None:
        """Back to the empty ClearOS tree and the limits it started with (fast, no new slapd)."""
        self.restart_server()
        size_limit, sync_limits = self._configured
        if self.size_limit != size_limit:
            self.set_size_limit(size_limit)
        if self.sync_limits != sync_limits:
            self.set_sync_limits(sync_limits)
        connection = self.admin()
        for base in (self.users_dn, self.groups_dn):
            entries = [
                dn for dn, _ in connection.search_s(base, ldap.SCOPE_SUBTREE, "(objectClass=*)", ["1.1"]) if dn != base
            ]
            for dn in sorted(entries, key=lambda dn: len(ldap.dn.str2dn(dn)), reverse=True):  # leaves first
                connection.delete_s(dn)
        self._next_uid_number = FIRST_UID_NUMBER
        self._next_gid_number = FIRST_GROUP_GID

    # --- users --------------------------------------------------------------
    def add_user(
        self,
        uid: str,
        given_name: str,
        family_name: str,
        password: str | None = None,
        password_scheme: str = "{SHA}",
        mail: str | None = None,
        groups=(),
        locked: bool = False,
        extra_attrs: dict[str, object] | None = None,
        ou: str = "",
    ) -> str:
        """Create a user as the ClearOS user manager does; returns its DN. ``ou``: a path of OUs below users_dn
        (``Staff/Berlin``) made with ``add_ou``, as on a directory that files people by department or site."""
        cn = " ".join(part for part in (given_name, family_name) if part)
        dn = f"cn={ldap.dn.escape_dn_chars(cn)},{self.ou_dn(ou) if ou else self.users_dn}"
        attrs: dict[str, object] = {
            # inetLocalMailRecipient (misc schema) allows mailLocalAddress: the mail aliases.
            "objectClass": [
                "top",
                "posixAccount",
                "shadowAccount",
                "inetOrgPerson",
                "inetLocalMailRecipient",
                "clearAccount",
            ],
            "uid": uid,
            "cn": cn,
            "givenName": given_name,
            "sn": family_name,
            "uidNumber": self._next_uid_number,
            "gidNumber": CLEAROS_GID,
            "homeDirectory": f"/home/{uid}",
            "loginShell": "/sbin/nologin",
            "mail": mail,
            "clearAccountStatus": "disabled" if locked else "enabled",
            "shadowExpire": 1 if locked else None,
        }
        if password is not None:
            attrs["userPassword"] = hash_password(password, password_scheme)
            attrs["clearSHA1Password"] = sha1_hex(password)
        attrs.update(extra_attrs or {})
        self.add_entry(dn, attrs)
        self._next_uid_number += 1
        for group in groups:
            self.add_to_group(group, uid)
        return dn

    def ou_dn(self, path: str) -> str:
        """``Staff/Berlin`` → ``ou=Berlin,ou=Staff,<users_dn>``."""
        rdns = [f"ou={ldap.dn.escape_dn_chars(part)}" for part in reversed(path.strip("/").split("/"))]
        return ",".join([*rdns, self.users_dn])

    def add_ou(self, path: str) -> str:
        """An organizationalUnit (and its parents) below users_dn; returns its DN."""
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            dn = self.ou_dn("/".join(parts[:depth]))
            if not self.admin().search_s(
                self.users_dn, ldap.SCOPE_SUBTREE, ldap.filter.filter_format("(entryDN=%s)", [dn]), ["1.1"]
            ):
                self.add_entry(dn, {"objectClass": ["top", "organizationalUnit"], "ou": parts[depth - 1]})
        return self.ou_dn(path)

    def add_no_members_account(self) -> str:
        """The reserved account behind ``no_members_dn``, as ClearOS's base tree holds it (uid nomembers)."""
        return self.add_entry(
            self.no_members_dn,
            {
                "objectClass": ["top", "posixAccount", "inetOrgPerson"],
                "uid": "nomembers",
                "cn": "No Members",
                "sn": "Members",
                "uidNumber": 63999,
                "gidNumber": CLEAROS_GID,
                "homeDirectory": "/dev/null",
                "loginShell": "/sbin/nologin",
            },
        )

    def user_dn(self, uid: str) -> str:
        found = self.admin().search_s(
            self.users_dn, ldap.SCOPE_SUBTREE, ldap.filter.filter_format("(uid=%s)", [uid]), ["1.1"]
        )
        if not found:
            raise KeyError(f"no user {uid!r} in {self.users_dn}")
        return found[0][0]

    def user_entry(self, uid: str) -> dict[str, list[bytes]]:
        """Every attribute of a user, operational ones (entryUUID) included."""
        dn = self.user_dn(uid)
        return self.admin().search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", ["*", "+"])[0][1]

    def modify_user(self, uid: str, /, **attrs) -> str:
        """Replace attributes (``None`` deletes one); a new givenName or sn renames the entry like ClearOS.

        Returns the (possibly new) DN.
        """
        dn = self.user_dn(uid)
        current = self.user_entry(uid)
        if "givenName" in attrs or "sn" in attrs:
            given = attrs.get("givenName", current.get("givenName", [b""])[0].decode("utf-8")) or ""
            family = attrs.get("sn", current["sn"][0].decode("utf-8"))
            cn = " ".join(part for part in (given, family) if part)
            attrs["cn"] = cn
            new_rdn = f"cn={ldap.dn.escape_dn_chars(cn)}"
            if ldap.dn.str2dn(new_rdn)[0] != ldap.dn.str2dn(dn)[0]:
                old_dn, dn = dn, f"{new_rdn},{self.users_dn}"
                self.admin().rename_s(old_dn, new_rdn, delold=1)
                self._replace_member_dn(old_dn, dn)
        changes = [
            (ldap.MOD_REPLACE, name, None if value is None else _values(value))
            for name, value in attrs.items()
            if value is not None or name in current
        ]
        if changes:
            self.admin().modify_s(dn, changes)
        return dn

    def set_locked(self, uid: str, locked: bool = True) -> None:
        self.modify_user(
            uid, shadowExpire=1 if locked else None, clearAccountStatus="disabled" if locked else "enabled"
        )

    def set_password(self, uid: str, cleartext: str, scheme: str = "{SHA}") -> None:
        self.modify_user(uid, userPassword=hash_password(cleartext, scheme), clearSHA1Password=sha1_hex(cleartext))

    def rename_user(self, uid: str, new_uid: str) -> None:
        """Change the login name (the DN, built from the full name, stays) and follow it in groups."""
        self.modify_user(uid, uid=new_uid, homeDirectory=f"/home/{new_uid}")
        for dn, _ in self._groups_with("memberUid", uid):
            self.admin().modify_s(
                dn, [(ldap.MOD_DELETE, "memberUid", [_value(uid)]), (ldap.MOD_ADD, "memberUid", [_value(new_uid)])]
            )

    def delete_user(self, uid: str) -> None:
        dn = self.user_dn(uid)
        for group_dn, _ in self._groups_with("memberUid", uid):
            self.admin().modify_s(group_dn, [(ldap.MOD_DELETE, "memberUid", [_value(uid)])])
        self._replace_member_dn(dn, None)
        self.admin().delete_s(dn)

    # --- groups -------------------------------------------------------------
    def group_dn(self, name: str) -> str:
        return f"cn={ldap.dn.escape_dn_chars(name)},{self.groups_dn}"

    def add_group(
        self,
        name: str,
        members=(),
        description: str = "",
        group_of_names: bool = False,
        mail: str | None = None,
    ) -> str:
        """A posixGroup with memberUid; with ``group_of_names`` also member DNs, as ClearOS keeps both."""
        member_uids = list(members)
        attrs: dict[str, object] = {
            "objectClass": ["top", "posixGroup"],
            "cn": name,
            "gidNumber": self._next_gid_number,
            "description": description or None,
            "memberUid": member_uids or None,
            "mail": mail,
        }
        if mail:
            attrs["objectClass"].append("extensibleObject")
        if group_of_names:
            # nis.schema makes posixGroup structural, so slapd refuses groupOfNames beside
            # it (only an rfc2307bis schema allows both); extensibleObject admits member.
            attrs["objectClass"] = ["top", "posixGroup", "extensibleObject"]
            attrs["member"] = [self.user_dn(uid) for uid in member_uids] or [self.no_members_dn]
        dn = self.add_entry(self.group_dn(name), attrs)
        self._next_gid_number += 1
        return dn

    def add_group_of_names(self, name: str, member_dns=(), description: str = "") -> str:
        """A plain groupOfNames (member DNs only), as on a generic OpenLDAP server."""
        return self.add_entry(
            self.group_dn(name),
            {
                "objectClass": ["top", "groupOfNames"],
                "cn": name,
                "description": description or None,
                "member": list(member_dns) or [self.no_members_dn],
            },
        )

    def group_entry(self, name: str) -> dict[str, list[bytes]]:
        return self.admin().search_s(self.group_dn(name), ldap.SCOPE_BASE, "(objectClass=*)", ["*", "+"])[0][1]

    def add_to_group(self, name: str, uid: str) -> None:
        entry = self.group_entry(name)
        changes = []
        if b"posixGroup" in entry.get("objectClass", []):
            changes.append((ldap.MOD_ADD, "memberUid", [_value(uid)]))
        if "member" in entry:
            changes.append((ldap.MOD_ADD, "member", [_value(self.user_dn(uid))]))
            if _value(self.no_members_dn) in entry["member"]:
                changes.append((ldap.MOD_DELETE, "member", [_value(self.no_members_dn)]))
        self.admin().modify_s(self.group_dn(name), changes)

    def remove_from_group(self, name: str, uid: str) -> None:
        entry = self.group_entry(name)
        changes = []
        if _value(uid) in entry.get("memberUid", []):
            changes.append((ldap.MOD_DELETE, "memberUid", [_value(uid)]))
        user_dn = _value(self.user_dn(uid))
        members = entry.get("member", [])
        if any(_same_dn(member, user_dn) for member in members):
            changes.append((ldap.MOD_DELETE, "member", [user_dn]))
            if len(members) == 1:
                changes.append((ldap.MOD_ADD, "member", [_value(self.no_members_dn)]))
        if changes:
            self.admin().modify_s(self.group_dn(name), changes)

    def delete_group(self, name: str) -> None:
        self.admin().delete_s(self.group_dn(name))

    def _groups_with(self, attribute: str, value: str):
        search = ldap.filter.filter_format(f"({attribute}=%s)", [value])
        return self.admin().search_s(self.groups_dn, ldap.SCOPE_ONELEVEL, search, ["1.1"])

    def _replace_member_dn(self, old_dn: str, new_dn: str | None) -> None:
        for group_dn, _ in self._groups_with("member", old_dn):
            changes = [(ldap.MOD_DELETE, "member", [_value(old_dn)])]
            replacement = new_dn
            if (
                replacement is None
                and len(self.admin().search_s(group_dn, ldap.SCOPE_BASE, attrlist=["member"])[0][1]["member"]) == 1
            ):
                replacement = self.no_members_dn
            if replacement:
                changes.append((ldap.MOD_ADD, "member", [_value(replacement)]))
            self.admin().modify_s(group_dn, changes)


def _same_dn(first: bytes, second: bytes) -> bool:
    return _normal_dn(first) == _normal_dn(second)


def _normal_dn(dn: bytes) -> str:
    return ldap.dn.dn2str(ldap.dn.str2dn(dn.decode("utf-8"))).lower()


SAMPLE_USERS = (
    # uid, given name, family name, in google_apps_plugin, other groups, options
    ("alice", "Alice", "Martin", True, ("sales",), {}),
    ("bob", "Bob", "Dupont", True, ("engineering",), {}),
    ("carol", "Carol", "Nguyen", True, ("engineering", "management"), {"password_scheme": "{CRYPT}"}),
    ("dave", "Dave", "Okafor", True, ("sales",), {"password_scheme": "{SSHA}"}),
    ("erin", "Erin", "Kowalski", True, ("engineering",), {}),
    ("frank", "Frank", "Müller", True, ("sales", "management"), {}),
    ("zoe", "Zoë", "Çelik", True, ("engineering",), {}),
    ("grace", "Grace", "Hopper", True, ("engineering",), {"locked": True}),
    ("heidi", "Heidi", "Schmidt", True, ("sales",), {"password": None}),
    ("ivan", "Ivan", "Petrov-" + "Vodkin" * 10, True, ("sales",), {}),
    ("judy", "Judy", "Garland", False, ("sales",), {}),
    ("mallory", "Mallory", "Black", False, (), {}),
)


def seed_sample_organisation(
    directory: DemoDirectory, domain: str = "example.com", password: str = "Demo-Password-1"
) -> None:
    """A small organisation for the demo: most people have Google enabled, some do not.

    ``grace`` is locked, ``zoe`` has a non-ASCII name, ``heidi`` has no password,
    ``ivan``'s surname is longer than Google allows (bad input to report), and
    ``judy`` and ``mallory`` are not in ``google_apps_plugin``. ``allusers`` is
    reserved and ``winadmin`` a reserved account: neither is ever synchronized.
    """
    directory.add_group("allusers", description="All Users")
    directory.add_group("google_apps_plugin", description="Google Apps Synchronization - Plugin", group_of_names=True)
    directory.add_group("sales", description="Sales team", group_of_names=True)
    directory.add_group("engineering", description="Engineering")
    directory.add_group("management", description="Management")
    directory.add_user("winadmin", "Windows", "Administrator", password=password, groups=("allusers",))
    for uid, given, family, enabled, groups, options in SAMPLE_USERS:
        options = {"password": password, **options}
        plugin = ("google_apps_plugin",) if enabled else ()
        directory.add_user(
            uid, given, family, mail=f"{uid}@{domain}", groups=("allusers",) + plugin + groups, **options
        )
