"""Every section and key of the configuration file, declared once: its type, default, check and meaning.

The strict loader (``config.load``), the console's reader and writer (``config_file``), the README's
configuration reference and ``deploy/google_sync.conf.example`` (both written by ``config_docs``) all
come from ``SECTIONS``, so no key can be known to one of them and unknown to another.
A kind turns the text of a value into what the code uses, or raises ``Invalid`` saying how to write it.
"""

from __future__ import annotations

import configparser
import difflib
import os
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import ldap.dn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from ..core.errors import ConfigError

# Everything str.splitlines() splits on: a value holding one would become two lines when written back.
LINE_SEPARATORS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_SEPARATOR = re.compile(f"[{re.escape(LINE_SEPARATORS)}]")


class Invalid(ValueError):
    """A value a kind refuses; the message says how to write it."""


# The longest value a kind takes, checked before anything else (and before a value is echoed): the console
# writes what a form sends, and a 1 MB value would make the file, and every page showing it, that large too.
# A kind may set its own ``max_length`` (a plain class attribute); lists of names are long by nature.
MAX_LENGTH = 256
SHOWN_LENGTH = 200  # how much of a refused value a message repeats (a path, in full; never a whole list)


class Kind(Protocol):
    """What every kind below does: turn a value's text into what the code uses, or raise ``Invalid``."""

    def parse(self, text: str) -> Any: ...


# -- kinds ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Text, matching ``pattern`` when one is given. Nothing is allowed (a key that needs a value says ``required``)."""

    pattern: str = ""
    fix: str = ""
    lower: bool = False

    def parse(self, text: str) -> str:
        value = text.lower() if self.lower else text
        if value and self.pattern and not re.fullmatch(self.pattern, value):
            raise Invalid(self.fix)
        return value


_TRUE, _FALSE = ("yes", "true", "on", "1"), ("no", "false", "off", "0", "")


@dataclass(frozen=True)
class HostPort(Text):
    """``host:port``: a pattern cannot bound the port, and the worker would only fail when it binds."""

    def parse(self, text: str) -> str:
        value = super().parse(text)
        if value and not 1 <= int(value.rpartition(":")[2]) <= 65535:
            raise Invalid(self.fix)
        return value


@dataclass(frozen=True)
class Boolean:
    fix: str = "use yes or no"

    def parse(self, text: str) -> bool:
        if text.lower() not in _TRUE + _FALSE:
            raise Invalid(self.fix)
        return text.lower() in _TRUE


parse_bool = Boolean().parse  # the one reading of yes and no, for settings outside the file too


@dataclass(frozen=True)
class Integer:
    minimum: int
    maximum: int
    unit: str = ""  # "minutes": the message says "a whole number of minutes"

    @property
    def fix(self) -> str:
        return f"give a whole number{f' of {self.unit}' if self.unit else ''} from {self.minimum} to {self.maximum}"

    def parse(self, text: str) -> int:
        if not re.fullmatch(r"[+-]?\d{1,12}", text) or not self.minimum <= int(text) <= self.maximum:
            raise Invalid(self.fix)
        return int(text)


_DURATION = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)\s*([smhd]?)")
_SECONDS_PER = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_text(seconds: float) -> str:
    """``1800`` → ``30m``: the largest unit that divides it."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % _SECONDS_PER[unit] == 0:
            return f"{seconds / _SECONDS_PER[unit]:g}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Duration:
    """Seconds, written ``90``, ``90s``, ``30m``, ``24h`` or ``7d``."""

    minimum: float
    maximum: float

    @property
    def fix(self) -> str:
        return (
            f"give a duration from {duration_text(self.minimum)} to {duration_text(self.maximum)}, "
            "such as 90s, 30m, 24h or 7d (a plain number is seconds)"
        )

    def parse(self, text: str) -> float:
        match = _DURATION.fullmatch(text.lower())
        seconds = float(match[1]) * _SECONDS_PER[match[2]] if match else -1.0
        if not self.minimum <= seconds <= self.maximum:
            raise Invalid(self.fix)
        return seconds


@dataclass(frozen=True)
class Limit:
    """A count (``10``) or a percentage (``25%``), kept as written; over 100% would be no limit at all."""

    of: str

    def parse(self, text: str) -> str:
        match = re.fullmatch(r"\d{1,9}|(\d{1,3}(?:\.\d{1,6})?)%", text)
        if not match or (match[1] and float(match[1]) > 100):
            raise Invalid(f"give a count (10) or a percentage from 0% to 100% (25%) of {self.of}")
        return text


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]
    blank: str = ""  # what nothing means, when nothing is allowed

    def parse(self, text: str) -> str:
        value = text.lower()
        if value in self.options or (not value and self.blank):
            return value
        raise Invalid(f"use one of {', '.join(self.options)}" + (f", or nothing {self.blank}" if self.blank else ""))


@dataclass(frozen=True)
class Names:
    """A list of names separated by spaces or commas."""

    max_length = 65536

    pattern: str
    fix: str

    def parse(self, text: str) -> tuple[str, ...]:
        names = tuple(name for name in re.split(r"[\s,]+", text) if name)
        wrong = [name for name in names if not re.fullmatch(self.pattern, name)]
        if wrong:
            raise Invalid(f"{wrong[0]!r} {self.fix}")
        return names


@dataclass(frozen=True)
class DomainList(Names):
    """``[google] domains``: nothing, ``*`` (read from Google), or domain names."""

    max_length = 4096

    pattern: str = r"\*|[a-z0-9-]+(\.[a-z0-9-]+)+"
    fix: str = "is not a domain name: give domains such as example.org, separated by spaces or commas, or * to read them from Google"

    def parse(self, text: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(super().parse(text.lower())))
        if "*" in names and names != ("*",):
            raise Invalid("'*' stands alone: give *, or the domain names")
        return names


@dataclass(frozen=True)
class GroupSelection(Names):
    """``[sync] groups``: ``*`` (or nothing) for every group, ``none`` for no group at all, else the names."""

    def parse(self, text: str) -> tuple[str, ...]:
        names = super().parse(text)
        if "none" in names and names != ("none",):
            raise Invalid("'none' stands alone: give none, *, or group names")
        return () if names == ("none",) else names or ("*",)


def _filter_end(text: str, start: int) -> int:
    """Where the LDAP filter (RFC 4515) starting at ``start`` ends; Invalid when it is not one."""
    if text[start : start + 1] != "(":
        raise Invalid("")
    position = start + 1
    if text[position : position + 1] in ("&", "|", "!"):
        position = _filter_end(text, position + 1)
        while text[position : position + 1] == "(" and text[start + 1] != "!":
            position = _filter_end(text, position)
    else:
        end = text.find(")", position)
        if end < 0 or not re.fullmatch(r"[\w.;:-]+[~<>]?=[^()]*", text[position:end]):
            raise Invalid("")
        position = end
    if text[position : position + 1] != ")":
        raise Invalid("")
    return position + 1


@dataclass(frozen=True)
class LdapFilter:
    max_length = 4096
    fix: str = (
        "not an LDAP filter (check the parentheses and each attribute=value): give e.g. (objectClass=posixAccount)"
    )

    def parse(self, text: str) -> str:
        try:
            if text and _filter_end(text, 0) != len(text):
                raise Invalid("")
        except (Invalid, RecursionError):
            raise Invalid(self.fix) from None
        return text


@dataclass(frozen=True)
class LdapUri:
    max_length = 1024
    fix: str = "use ldap://, ldaps:// or ldapi:// (e.g. ldap://127.0.0.1)"

    def parse(self, text: str) -> str:
        if not text or not all(re.fullmatch(r"ldap[si]?://\S*", uri, re.IGNORECASE) for uri in text.split()):
            raise Invalid(self.fix)
        return text


@dataclass(frozen=True)
class WebUrl:
    max_length = 2048
    example: str
    slash: bool = False  # a base URL, completed with "/" so paths join under it

    def parse(self, text: str) -> str:
        if not text:
            return ""
        try:
            parts = urlsplit(text)
            usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port that is not a number
            usable = False
        if not usable:
            raise Invalid(f"give an http(s) URL with a host, e.g. {self.example}")
        return text if not self.slash or text.endswith("/") else text + "/"


@dataclass(frozen=True)
class DatabaseUrl:
    max_length = 2048
    fix: str = (
        "not a database URL SQLAlchemy knows: give e.g. postgresql+psycopg://google_sync@db.example.com/google_sync, "
        "or nothing for SQLite in state_dir"
    )
    no_driver: str = (
        "its database driver is not installed: for PostgreSQL, pip install 'app-google-sync[postgresql]' "
        "and write the URL as postgresql+psycopg://…"
    )

    def parse(self, text: str) -> str:
        if not text:
            return text
        try:
            dialect = make_url(text).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError):
            raise Invalid(self.fix) from None
        try:
            dialect.import_dbapi()  # a missing driver named now, not as a traceback at the first query
        except ImportError:
            raise Invalid(self.no_driver) from None
        return text


@dataclass(frozen=True)
class FilePath:
    max_length = 4096

    def parse(self, text: str) -> str:
        if text and not os.path.isabs(text):
            raise Invalid("give an absolute path")
        return text


@dataclass(frozen=True)
class Directory:
    """An absolute path; whether this process can use it is the loader's check (``config.usable_directory``), not the kind's."""

    max_length = 4096

    def parse(self, text: str) -> str:
        if not os.path.isabs(text):
            raise Invalid("give an absolute directory path")
        return text


@dataclass(frozen=True)
class Dn:
    max_length = 1024
    example: str

    def parse(self, text: str) -> str:
        if text and not ldap.dn.is_dn(text):
            raise Invalid(f"not a DN: give e.g. {self.example}")
        return text


@dataclass(frozen=True)
class OrgUnitPath:
    max_length = 1024
    fix: str = "give a Google org unit path such as /Staff (no empty parts or control characters)"

    def parse(self, text: str) -> str:
        parts = [part.strip() for part in text.strip("/").split("/")] if text.strip("/") else []
        if any(not part or re.search(r"[\x00-\x1f\x7f]", part) for part in parts):
            raise Invalid(self.fix)
        return "/" + "/".join(parts)


@dataclass(frozen=True)
class Subtree:
    """One ``[sources] subtrees`` entry: a directory subtree whose users go to Google."""

    dn: str
    sub_ous: bool = True  # its sub-OUs too; False: only the entries right below it (LDAP's one level)
    org_unit: str = ""  # the Google org unit its users go to ("" = placed as [sync] org_units says)

    def __str__(self) -> str:
        level = "" if self.sub_ous else f" {ONE_LEVEL}"
        place = f" -> {self.org_unit}" if self.org_unit else ""
        return f"{self.dn}{level}{place}"


ONE_LEVEL = "(one level)"
_SUBTREE = re.compile(r"(?P<dn>.+?)(?P<level>\s*\(one level\))?(?:\s*->\s*(?P<unit>.*))?", re.IGNORECASE)


@dataclass(frozen=True)
class SubtreeList:
    """``[sources] subtrees``: entries separated by ``;``, each ``<DN> [(one level)] [-> /Org/Unit]``."""

    fix: str = (
        "write DNs separated by ';', each optionally followed by (one level) and -> /Google/OrgUnit, "
        "e.g. ou=Staff,dc=example,dc=com -> /Staff; ou=Interns,dc=example,dc=com (one level)"
    )

    def parse(self, text: str) -> tuple[Subtree, ...]:
        return tuple(self._one(part.strip()) for part in text.split(";") if part.strip())

    def _one(self, text: str) -> Subtree:
        match = _SUBTREE.fullmatch(text)
        if match is None:
            raise Invalid(f"{text!r}: {self.fix}")
        dn = match["dn"].strip()
        if not ldap.dn.is_dn(dn) or not dn:
            raise Invalid(f"{dn!r} is not a DN: {self.fix}")
        unit = OrgUnitPath().parse(match["unit"].strip()) if match["unit"] is not None else ""
        if match["unit"] is not None and unit == "/" and match["unit"].strip() != "/":
            raise Invalid(self.fix)
        return Subtree(dn, sub_ous=not match["level"], org_unit=unit)


ATTRIBUTE_NAME = Text(
    r"[A-Za-z][A-Za-z0-9-]*", "give an LDAP attribute name (a letter, then letters, digits or hyphens)"
)
POSTING_POLICY = Choice(("members", "domain", "anyone"), blank="to leave posting alone")
DOMAIN = Text(r"[a-z0-9-]+(\.[a-z0-9-]+)+", "give the Google Workspace primary domain, e.g. example.com", lower=True)
EMAIL = Text(
    r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9-]+(\.[a-z0-9-]+)+",
    "give the address of a Google super administrator, e.g. admin@example.com",
    lower=True,
)
GROUP_NAMES = r"[^\s,=:#;\[\]]+"
_UNLISTABLE = "is not a group name that can be listed (none of = : # ; [ ]): separate names with spaces or commas"


# -- keys and sections -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    name: str
    kind: Kind  # one of the kinds above
    default: str  # as written in the file; what a key left out means
    help: str  # Markdown (backticks only): the README's meaning column and the example's comment
    console: str = ""  # the console page that edits it
    label: str = ""  # its name on that page
    required: bool = False  # only a run needs it; the console reads a file without it
    secret: bool = False  # its value never appears in a message
    blank_is_default: bool = False  # "key =" means the default (otherwise nothing is a value of its own)
    shown_default: str = ""  # Markdown, for a default that depends on other keys
    example: str | None = None  # the value deploy/google_sync.conf.example gives, when not the default
    commented: bool = False  # the example shows it commented out
    field: bool = True  # a field of the same name in the section's settings

    def parse(self, text: str):
        text = text.strip()
        return self.kind.parse(self.default if not text and self.blank_is_default else text)

    @property
    def typed_default(self):
        return self.parse(self.default)

    @property
    def fix(self) -> str:
        """How to write a value, for a required key left empty (the kinds such keys use all say it in ``fix``)."""
        fix = getattr(self.kind, "fix", "")
        return fix if isinstance(fix, str) and fix else "give a value"


@dataclass(frozen=True)
class Section:
    name: str
    keys: tuple[Key, ...]
    help: str = ""
    column: str = "meaning"  # the README's third column
    any_key: object = None  # for a section whose keys are names (group → policy): the kind of every value
    example: str = ""  # such a section's example line

    def key(self, name: str) -> Key | None:
        return next((key for key in self.keys if key.name == name), None)


DEFAULT_FILTERS = {
    "user_filter": "(|(objectClass=posixAccount)(objectClass=inetOrgPerson))",
    "group_filter": "(|(objectClass=posixGroup)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
    # clearAccountStatus is ClearOS' own (enabled / disabled); on a server without that schema slapd
    # evaluates the term as Undefined, which an OR simply skips.
    "disabled_filter": "(|(pwdAccountLockedTime=*)(shadowExpire=1)(clearAccountStatus=disabled))",
}

LDAP = Section(
    "ldap",
    (
        Key(
            "uri",
            LdapUri(),
            "ldap://127.0.0.1",
            "`ldap://`, `ldaps://` or `ldapi://`. With `ldapi://` and no `bind_dn`, SASL EXTERNAL is used "
            "(run as root on the directory server, no password needed)",
        ),
        Key(
            "bind_dn",
            Dn("cn=sync,ou=Internal,dc=example,dc=com"),
            "",
            "the account to bind as; give it read access to users and groups, and the limits in "
            "`deploy/sync-account-limits.ldif` so that it may page past slapd's size limit. Empty: SASL EXTERNAL "
            "over `ldapi://`, else an anonymous bind",
        ),
        Key("bind_password", Text(), "", "its password (keep this file `0600`)", secret=True),
        Key(
            "bind_password_file",
            FilePath(),
            "",
            "a file holding the password instead, readable by root only; it wins over `bind_password`",
            example="/etc/clearos/google_sync/ldap-password",
            commented=True,
            field=False,
        ),
        Key(
            "base_dn",
            Dn("dc=example,dc=com"),
            "",
            "the directory suffix; sets `users_dn` and `groups_dn` to the ClearOS layout",
            example="dc=example,dc=com",
        ),
        Key(
            "users_dn",
            Dn("ou=Users,ou=Accounts,dc=example,dc=com"),
            "",
            "where users live",
            shown_default="`ou=Users,ou=Accounts,<base_dn>`",
            example="ou=Users,ou=Accounts,dc=example,dc=com",
            commented=True,
        ),
        Key(
            "groups_dn",
            Dn("ou=Groups,ou=Accounts,dc=example,dc=com"),
            "",
            "where groups live",
            shown_default="`ou=Groups,ou=Accounts,<base_dn>`",
            example="ou=Groups,ou=Accounts,dc=example,dc=com",
            commented=True,
        ),
        Key(
            "user_filter",
            LdapFilter(),
            DEFAULT_FILTERS["user_filter"],
            "which entries are users (entries without `uid` are skipped with a log line)",
            blank_is_default=True,
        ),
        Key(
            "group_filter",
            LdapFilter(),
            DEFAULT_FILTERS["group_filter"],
            "which entries are groups (`memberUid`, `member` and `uniqueMember` are all understood)",
            blank_is_default=True,
        ),
        Key(
            "enabled_group",
            Text(),
            "google_apps_plugin",
            "only members of this group are synchronized (ClearOS' per-user Google Apps switch). Empty: every user "
            "matching `user_filter`. If it is set but missing, a run stops with an error rather than suspend everyone",
        ),
        Key(
            "disabled_filter",
            LdapFilter(),
            DEFAULT_FILTERS["disabled_filter"],
            "users matching it are locked in the directory: suspended in Google. `clearAccountStatus` is ClearOS' "
            "account state; a server without that schema simply never matches it. Empty: nobody is locked",
        ),
        Key(
            "mail_attribute",
            ATTRIBUTE_NAME,
            "mail",
            "where a user's Google address comes from; a user without one gets `<uid>@<domain>`. Empty: always `<uid>@<domain>`",
        ),
        Key(
            "password_attributes",
            Names(r"[A-Za-z][A-Za-z0-9-]*", "is not an LDAP attribute name"),
            "userPassword clearSHA1Password",
            "where passwords are read from, first usable wins: `{SHA}` and `clearSHA1Password` go as SHA-1, `{MD5}` as MD5, "
            "`{CRYPT}` as crypt; another attribute stored as `{SCHEME}value` (ClearOS's `clearSHAPassword`) is read like `userPassword`. Salted schemes (`{SSHA}`, `{PBKDF2}`, …) cannot be synchronized; the test lists them (see Passwords below)",
        ),
        Key("page_size", Integer(1, 100000), "500", "paged-results page size"),
        Key("timeout", Integer(1, 3600, "seconds"), "30", "seconds for network and operations"),
        Key("start_tls", Boolean(), "no", "StartTLS on `ldap://`"),
        Key("ca_file", FilePath(), "", "the CA certificate for `ldaps://` or StartTLS"),
    ),
)

GOOGLE = Section(
    "google",
    (
        Key(
            "domain",
            DOMAIN,
            "",
            "the Google Workspace primary domain; users outside it are reported and skipped",
            console="Settings",
            label="Domain",
            required=True,
            example="example.com",
        ),
        Key(
            "domains",
            DomainList(),
            "",
            "the account's other domains whose users and groups are synchronized too: secondary domains and domain "
            "aliases, listed (`example.org example.net`), or `*` to read them from Google (`domains.list`, which needs "
            "the `admin.directory.domain.readonly` scope). An address in no domain of the account is reported with the "
            "domains that would work; aliases in any of them are added. Empty: `domain` only",
            console="Attributes",
            label="Other domains",
        ),
        Key(
            "default_domain",
            DOMAIN,
            "",
            "the domain of users and groups without a mail address (`<uid>@<default_domain>`); one of the account's domains",
            console="Attributes",
            label="Default domain",
            shown_default="`domain`",
        ),
        Key(
            "admin_email",
            EMAIL,
            "",
            "a super administrator the service account acts as (domain-wide delegation); never suspended",
            console="Settings",
            label="Administrator",
            required=True,
            example="admin@example.com",
        ),
        Key(
            "credentials_file",
            FilePath(),
            "",
            "the service-account JSON key (`0600`, outside any web root), or the `authorized_user` file the console's "
            "Connect to Google writes. Needed to reach Google; uploading a key in the console sets it (in "
            "`<state_dir>/secrets`) and Disconnect removes it",
            console="Settings",
            example="/var/lib/app-google-sync/secrets/service-account.json",
        ),
        Key(
            "api_endpoint",
            WebUrl("https://admin.googleapis.com/", slash=True),
            "https://admin.googleapis.com/",
            "any Directory-API-compatible endpoint, e.g. the bundled emulator (`google-sync-emulator`)",
            blank_is_default=True,
        ),
        Key(
            "token_uri",
            WebUrl("https://oauth2.googleapis.com/token"),
            "",
            "the OAuth token endpoint, when not Google's. Empty: the one in the key file",
            shown_default="the key file's own",
        ),
        Key(
            "queries_per_minute",
            Integer(1, 1000000),
            "2400",
            "the API quota the client paces itself to (Google's default: 2400 queries per minute per user per project); "
            "raise it only when Google raised your quota",
        ),
        Key(
            "retry_deadline",
            Duration(0, 86400),
            "30m",
            "how long one run keeps retrying quota and server errors (exponential backoff with jitter) before giving up on a part",
        ),
    ),
)

SYNC = Section(
    "sync",
    (
        Key(
            "automatic",
            Boolean(),
            "no",
            "automatic synchronization: a full run every `interval` minutes, by the console itself or, with several "
            "web processes, by the worker service (`deploy/google-sync-worker.service`)",
            console="Schedule",
            label="Automatic synchronization",
        ),
        Key(
            "interval",
            Integer(5, 7 * 24 * 60, "minutes"),
            "60",
            "minutes between scheduled synchronizations",
            console="Schedule",
            label="Interval",
        ),
        Key(
            "state_dir",
            Directory(),
            "/var/lib/app-google-sync",
            "the state database (`state.db`: links, runs, results, the scheduler's job), the run lock, and `secrets/` "
            "(mode `0700`): the console's stored credentials and the keys of the password fingerprints (`0600` files, "
            "never in the database)",
            blank_is_default=True,
        ),
        Key(
            "database_url",
            DatabaseUrl(),
            "",
            "a PostgreSQL database instead of the SQLite file, shared by the servers of one domain (see Running on two "
            "servers), e.g. `postgresql+psycopg://google_sync:PASSWORD@db.example.com/google_sync`; needs "
            "`pip install 'app-google-sync[postgresql]'`",
            secret=True,
            shown_default="`sqlite:///<state_dir>/state.db`",
        ),
        Key(
            "groups",
            GroupSelection(GROUP_NAMES, _UNLISTABLE),
            "*",
            "`*` (every group), a list of group names to synchronize, or `none` (users only)",
            console="Groups",
            blank_is_default=True,
        ),
        Key(
            "exclude_groups",
            Names(GROUP_NAMES, _UNLISTABLE),
            "",
            "groups never synchronized. `allusers`, `guests`, `enabled_group`, `*_plugin` groups and Windows groups (see ClearOS directories) never are",
            console="Groups",
        ),
        Key(
            "unmanaged_accounts",
            Choice(("ignore", "suspend")),
            "ignore",
            "Google accounts matching no local user: `ignore` (listed in the test) or `suspend` (mirror the directory, "
            "as ClearOS did). Administrators are never suspended",
        ),
        Key(
            "max_suspend",
            Limit("active Google accounts"),
            "25%",
            "most accounts suspended within `suspend_window`, by runs and pushes together: a count (`10`) or a percentage "
            "of active Google accounts (`25%`, applied once the domain has 10 active accounts or more). Above it a full "
            "plan is refused unless forced (`--force`, or the console's confirmation) and a push holds the suspension for approval",
        ),
        Key(
            "suspend_window",
            Duration(60, 30 * 86400),
            "24h",
            "the rolling window over which `max_suspend` counts suspensions and `max_member_removals` each group's removals",
        ),
        Key(
            "max_member_removals",
            Limit("the group's members"),
            "50%",
            "most members removed from one group within `suspend_window`, by runs and pushes together: a count or a "
            "percentage of its members before those removals (applied to groups of 10 members or more). Above it a full "
            "plan is refused unless forced and a push holds the removals",
        ),
        Key("batch_size", Integer(1, 1000), "100", "parts per batch request (Google allows 1000)"),
        Key(
            "max_retries",
            Integer(0, 20),
            "8",
            "most retries of one request after a quota or server error, within `retry_deadline` (which supersedes it)",
        ),
        Key(
            "create_missing_members",
            Boolean(),
            "no",
            "members of synchronized groups who lack the Google Apps option: `no` leaves them out with a warning per "
            "group; `yes` synchronizes them too (previewed in the test). Locked accounts always stay out",
            console="Groups",
        ),
        Key(
            "posting_policy",
            POSTING_POLICY,
            "",
            "who may post to synchronized groups: `members`, `domain` or `anyone` (external senders; non-members' "
            "messages are then moderated, as Google recommends). Empty: posting is not managed and the "
            "`apps.groups.settings` scope is not needed. Per-group overrides go in the `[posting_policy]` section. "
            "A policy is applied when it differs from the one last applied, so later edits in Google are not fought",
            console="Groups",
        ),
        Key(
            "org_units",
            Text(r"dn|attribute:[A-Za-z][A-Za-z0-9-]*", "use dn, attribute:<LDAP attribute>, or nothing"),
            "",
            "place users in Google organizational units from the directory: `dn` (the `ou=` entries between the user "
            "and `users_dn`: `cn=Ann,ou=EMEA,ou=Sales,<users_dn>` → `/Sales/EMEA`) or `attribute:<name>` (e.g. "
            "`attribute:departmentNumber`). Missing units are created, parents first; users move when their place "
            "changes. Empty: org units are not touched and the `admin.directory.orgunit` scope is not needed",
            console="Attributes",
        ),
        Key(
            "org_unit_root",
            OrgUnitPath(),
            "/",
            "the Google unit the directory's units go under, e.g. `/Staff`",
            console="Attributes",
            blank_is_default=True,
        ),
        Key(
            "change_password_at_next_login",
            Boolean(),
            "no",
            "a new user without a syncable password gets a long random one; `yes` also makes Google ask for a new one at first login",
        ),
        Key(
            "push_delay",
            Duration(0, 600),
            "1s",
            "how bursts are coalesced: a changed entry that was quiet is pushed at once (within a tenth of a second); edits arriving "
            "while its push waits or runs, or within `push_delay` after it, go together in one more push, `push_delay` later "
            "(a burst of edits costs at most two pushes)",
        ),
        Key(
            "push_retry_max",
            Duration(1, 86400),
            "10m",
            "the longest wait between two attempts of a failed push; failed pushes are retried with exponential backoff (1 s, doubling) "
            "until they succeed",
        ),
        Key(
            "poll_interval",
            Integer(1, 86400, "seconds"),
            "30",
            "seconds between `modifyTimestamp` polls, only when the directory has no syncprov overlay",
        ),
    ),
)

SOURCES = Section(
    "sources",
    (
        Key(
            "subtrees",
            SubtreeList(),
            "",
            "directory subtrees whose users go to Google, separated by `;`; each under `[ldap] users_dn`, with its sub-OUs "
            "unless followed by `(one level)`, and optionally `-> /Org/Unit`: the Google org unit its users go to (with "
            "`[sync] org_units = dn`, the OUs below the subtree are appended). A subtree that does not exist stops the run",
            console="Sources",
            example="ou=Staff,ou=Users,ou=Accounts,dc=example,dc=com -> /Staff",
            commented=True,
        ),
        Key(
            "member_groups",
            Names(GROUP_NAMES, _UNLISTABLE),
            "",
            "directory groups whose members go to Google (members of nested groups too). A group that does not exist stops the run",
            console="Sources",
        ),
        Key(
            "switch",
            Choice(("yes", "no"), blank="for yes when no subtree and no group is given"),
            "",
            "the per-user switch: members of `[ldap] enabled_group` go to Google (with `enabled_group` empty, every user "
            "under `users_dn`). Empty: used only when no subtree and no group is given, so a ClearOS configuration works unchanged",
            console="Sources",
        ),
        Key(
            "exclusion_groups",
            Names(GROUP_NAMES, _UNLISTABLE),
            "",
            "members of these groups (nested ones too) never go to Google, whatever includes them; their managed accounts "
            "are suspended, within `max_suspend`",
            console="Sources",
        ),
        Key(
            "method",
            Choice(("users", "target_group", "source_groups")),
            "users",
            "`users`: the users only; `target_group`: the users, and every one of them in `target_group`, created if "
            "missing and kept exactly in step; `source_groups`: the users, and a Google group for each of `member_groups` "
            "(and the groups nested in them). The groups `[sync] groups` selects are synchronized alongside, whatever the method",
            console="Sources",
            blank_is_default=True,
        ),
        Key(
            "target_group",
            Text(
                r"[a-z0-9._'+-]+(@[a-z0-9-]+(\.[a-z0-9-]+)+)?",
                "give a group address such as all-staff@example.com, or a name (all-staff)",
                lower=True,
            ),
            "",
            "with `method = target_group`: the Google group every synchronized user is a member of (`all-staff@example.com`, "
            "or a name: `<name>@<default_domain>`); members it should not have are removed, within `max_member_removals`",
            console="Sources",
            example="all-staff@example.com",
            commented=True,
        ),
        Key(
            "pilot_source",
            Text(),
            "",
            "pilot mode: synchronize only the users of this source (one of `subtrees`, by its DN, or of `member_groups`); "
            "nobody else is created, changed or suspended. Widen it step by step, then empty it",
            console="Sources",
        ),
        Key(
            "pilot_users",
            Names(r"[^\s,]+", "is not a uid"),
            "",
            "pilot mode: synchronize only these users (uids), with those of `pilot_source`",
            console="Sources",
        ),
    ),
    help="Who goes to Google (see Choosing who is synchronized below). A user is synchronized when a source includes them "
    "(a subtree, a group, or the per-user switch), they match `[ldap] user_filter`, and no `exclusion_groups` group "
    "holds them; a user matching `disabled_filter` is suspended. On the console's Sources page a change is previewed (who comes in, who "
    "would be suspended) before it is saved.",
)

POSTING = Section(
    "posting_policy",
    (),
    help="Per-group posting policies, overriding `[sync] posting_policy`: `<group name> = members`, `domain` or "
    "`anyone`, or nothing to leave that group's posting alone. Set on the console's Groups page.",
    any_key=POSTING_POLICY,
    example="support = anyone",
)

ATTRIBUTES = Section(
    "attributes",
    (
        Key(
            "title", ATTRIBUTE_NAME, "title", "`organizations[primary].title`", console="Attributes", label="Job title"
        ),
        Key(
            "department",
            ATTRIBUTE_NAME,
            "departmentNumber",
            "`organizations[primary].department`",
            console="Attributes",
            label="Department",
        ),
        Key(
            "phone", ATTRIBUTE_NAME, "telephoneNumber", "`phones[type=work]`", console="Attributes", label="Work phone"
        ),
        Key("mobile", ATTRIBUTE_NAME, "mobile", "`phones[type=mobile]`", console="Attributes", label="Mobile phone"),
        Key(
            "employee_id",
            ATTRIBUTE_NAME,
            "employeeNumber",
            "`externalIds[type=organization]`",
            console="Attributes",
            label="Employee ID",
        ),
        Key(
            "aliases",
            ATTRIBUTE_NAME,
            "mailLocalAddress",
            "`aliases`: those in the domain are added (never removed); others are reported",
            console="Attributes",
            label="Email aliases",
        ),
        Key(
            "manager",
            ATTRIBUTE_NAME,
            "",
            "`relations[type=manager]`: the manager's address, from the DN the attribute holds, when the manager is synchronized too",
            console="Attributes",
            label="Manager",
            example="manager",
            commented=True,
        ),
        Key(
            "photo",
            ATTRIBUTE_NAME,
            "",
            "`users.photos`: a JPEG, PNG, GIF, BMP or TIFF of at most 512 KiB, pushed when it changed",
            console="Attributes",
            label="Photo",
            example="jpegPhoto",
            commented=True,
        ),
    ),
    help="Optional Google fields and the LDAP attribute that feeds each. Set one to nothing (`phone =`) to switch it "
    "off: Google's value is then never touched, so edits made there survive. Google replaces array fields whole, "
    "so a patch starts from what Google holds and changes only the entries mapped here (a home phone or a second "
    "organization added in Google stays).",
    column="Google field",
)

LICENSES = Section(
    "licenses",
    (
        Key(
            "product",
            Text(r"[A-Za-z0-9_.-]+", "give a product ID such as Google-Apps"),
            "",
            "the Enterprise License Manager product ID (e.g. `Google-Apps`). Empty: licences are not managed and the "
            "`apps.licensing` scope is not needed",
            console="Attributes",
            label="Product",
        ),
        Key(
            "sku",
            Text(r"[A-Za-z0-9_.-]+", "give a SKU ID such as 1010020027"),
            "",
            "the SKU ID (e.g. `1010020027` for Business Starter): new and unsuspended users get a licence of it",
            console="Attributes",
            label="SKU",
        ),
        Key(
            "release_on_suspend",
            Boolean(),
            "no",
            "`yes` frees the licence when this tool suspends a user (it is assigned again on unsuspension)",
            console="Attributes",
            label="Release on suspension",
        ),
    ),
    help="Licences, assigned through the Enterprise License Manager API (scope `apps.licensing`). When no licence is "
    "left (Google answers 412), the user is synchronized without one and the run reports that user as failed, naming "
    "the SKU; the rest of the run goes on.",
)


@dataclass(frozen=True)
class OptionalOrgUnitPath(OrgUnitPath):
    """An org unit path, or nothing (the step is off)."""

    def parse(self, text: str) -> str:
        return super().parse(text) if text.strip() else ""


@dataclass(frozen=True)
class TransferReceiver:
    """``manager``, an address, or nothing (no transfer)."""

    fix: str = "give manager, an e-mail address such as archive@example.com, or nothing to transfer no data"

    def parse(self, text: str) -> str:
        value = text.strip().lower()
        if value in ("", "manager") or re.fullmatch(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9-]+(\.[a-z0-9-]+)+", value):
            return value
        raise Invalid(self.fix)


OFFBOARDING = Section(
    "offboarding",
    (
        Key(
            "sign_out",
            Boolean(),
            "no",
            "`yes` ends every web and device session of a user this tool suspends (`users.signOut`), before the suspension",
        ),
        Key(
            "revoke_tokens",
            Boolean(),
            "no",
            "`yes` revokes the OAuth tokens of the apps the user connected (`tokens.delete`, one per app)",
        ),
        Key("revoke_app_passwords", Boolean(), "no", "`yes` revokes the user's app passwords (`asps.delete`)"),
        Key(
            "hide_from_directory",
            Boolean(),
            "no",
            "`yes` hides the user from the address book (`includeInGlobalAddressList = false`); shown again on return",
        ),
        Key(
            "move_to_org_unit",
            OptionalOrgUnitPath(),
            "",
            "an org unit leavers are moved to (e.g. `/Leavers`, which must exist in Google); moved back on return. Empty: not moved",
            example="/Leavers",
            commented=True,
        ),
        Key(
            "transfer_data_to",
            TransferReceiver(),
            "",
            "`manager` (the account's manager in Google) or an address: who receives the leaver's Drive files and calendars "
            "after `transfer_after`. Empty: nothing is transferred",
            example="manager",
            commented=True,
        ),
        Key(
            "transfer_fallback",
            Text(
                r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9-]+(\.[a-z0-9-]+)+",
                "give an address such as archive@example.com",
                lower=True,
            ),
            "",
            "who receives the data when `transfer_data_to = manager` and the leaver has no manager, the manager is not in "
            "Google or has left too. Empty: no transfer then (the test says so)",
            example="archive@example.com",
            commented=True,
        ),
        Key(
            "transfer_after",
            Duration(0, 3650 * 86400),
            "30d",
            "the grace period between the suspension and the transfer; a user who comes back before has nothing transferred",
        ),
        Key(
            "transfer_applications",
            Names(r"drive|calendar", "is not an application: give drive, calendar or both"),
            "drive, calendar",
            "what is transferred: `drive` (Drive and Docs) and/or `calendar` (calendars; their rooms are released)",
        ),
        Key(
            "drive_privacy",
            Names(r"shared|private", "is not a privacy level: give shared, private or both"),
            "shared, private",
            "which Drive files: `shared` (shared with someone), `private` (nobody else's), or both",
        ),
    ),
    help="What happens when this tool suspends a leaver (a user removed, locked or switched off; never an account suspended "
    "by hand in Google, never an administrator). Every step is off until switched on; see Offboarding below. Sign-out "
    "and revocations need the `admin.directory.user.security` scope, transfers `admin.datatransfer`: each is asked "
    "for only when its step is on.",
)

CUSTOM_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*")
CUSTOM_FIELD = Text(CUSTOM_KEY.pattern, "choose a field, written SchemaName.fieldName")  # a key of [custom_attributes]

CUSTOM_ATTRIBUTES = Section(
    "custom_attributes",
    (),
    help="Custom user attributes (Google's custom schemas), off until a line is given: `<SchemaName>.<fieldName> = "
    "<LDAP attribute>`. The schema and field must exist in Google (`google-sync check` says which do; names match "
    "whatever their case), which needs the `admin.directory.userschema.readonly` scope. Each value is checked against "
    "the field's type before it is sent (whole number, decimal, yes/no, date, email, text; a directory date such as "
    "`20240131000000Z` becomes `2024-01-31`): a bad value is a warning naming the user and leaves that field as Google "
    "has it. A multi-valued field gets every value of the attribute; a single-valued one exactly one. A field whose "
    "attribute the user lacks is cleared. Fields not listed here are never touched. Set on the console's Attributes page.",
    any_key=ATTRIBUTE_NAME,
    example="HR.costCenter = departmentNumber",
)


ADDRESSES = Names(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+",
    "is not an e-mail address: separate addresses with spaces or commas",
)

NOTIFY = Section(
    "notify",
    (
        Key(
            "email_to",
            ADDRESSES,
            "",
            "who is told when synchronization needs attention: one or more addresses, separated by spaces or commas. "
            "Empty: no message is ever sent",
            example="it-team@example.com",
            commented=True,
        ),
        Key(
            "email_from",
            Text(r"[^@\s]+@[^@\s]+", "give one e-mail address, e.g. google-sync@server.example.com"),
            "",
            "the sender address",
            shown_default="`google-sync@<host name>`",
        ),
        Key(
            "smtp_host",
            Text(r"[A-Za-z0-9.:\[\]-]+", "give a host name or an address, e.g. localhost"),
            "localhost",
            "the mail server; the default is the server's own mail transport (Postfix on ClearOS)",
            blank_is_default=True,
        ),
        Key("smtp_port", Integer(1, 65535), "25", "its port: 25 (or 587 with `starttls`); 465 is implicit TLS"),
        Key("starttls", Boolean(), "no", "upgrade the connection with STARTTLS (the server's certificate is verified)"),
        Key(
            "username",
            Text(),
            "",
            "the SMTP login, when the server asks for one; it is sent only over TLS (`starttls` or port 465)",
        ),
        Key(
            "password_file",
            FilePath(),
            "",
            "a file holding the SMTP password (readable by root only); it is read when a message is sent",
            example="/etc/clearos/google_sync/smtp-password",
            commented=True,
        ),
        Key(
            "allow_cleartext_auth",
            Boolean(),
            "no",
            "`yes` sends the login and password over an unencrypted connection (only for a mail server on this host); "
            "by default a login without `starttls` or port 465 is refused before anything is sent",
        ),
        Key(
            "when",
            Choice(("failures", "changes", "never")),
            "failures",
            "`failures`: failed, partial, refused or interrupted runs, and pushes failing for more than an hour; "
            "`changes`: those, and every run that changed something; `never`",
        ),
        Key(
            "min_interval",
            Duration(0, 7 * 86400),
            "1h",
            "at most one message of each kind (failures, pushes, changes) in this time; what happens meanwhile is summed up in the next",
        ),
        Key(
            "console_url",
            WebUrl("https://server.example.com:81/app/google_sync/", slash=True),
            "",
            "the plugin's address in the web console as a browser reaches it; messages then link to each run's page",
            example="https://server.example.com:81/app/google_sync/",
            commented=True,
        ),
    ),
    help="E-mail when synchronization needs attention (see Notifications below). The console's Settings page sends a test message.",
)

METRICS_ADDRESS = HostPort(
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}",
    "give host:port, e.g. 127.0.0.1:9464, or nothing to switch metrics off",
)

WORKER = Section(
    "worker",
    (
        Key(
            "metrics_address",
            METRICS_ADDRESS,
            "",
            "where `google-sync worker` serves Prometheus metrics (`/metrics`), e.g. `127.0.0.1:9464`. Empty: no metrics. "
            "Keep it on the loopback or a management network: the figures are not secret, but they say what the server does",
            example="127.0.0.1:9464",
            commented=True,
        ),
    ),
    help="The background process (`google-sync worker`, see Monitoring below).",
)

SECTIONS = (LDAP, GOOGLE, SYNC, SOURCES, POSTING, ATTRIBUTES, CUSTOM_ATTRIBUTES, LICENSES, OFFBOARDING, NOTIFY, WORKER)
_BY_NAME = {section.name: section for section in SECTIONS}
_SECTION_OF = {key.name: section.name for section in SECTIONS for key in section.keys}


def section(name: str) -> Section:
    return _BY_NAME[name]


def key(section_name: str, name: str) -> Key:
    found = _BY_NAME[section_name].key(name)
    if found is None:
        raise KeyError(f"[{section_name}] {name}")
    return found


def default(section_name: str, name: str):
    """The typed default, for the settings dataclasses."""
    return key(section_name, name).typed_default


# -- checking ------------------------------------------------------------------------------------


def problem(where: str, text: str, fix: str, secret: bool = False) -> str:
    """One line: ``[sync] interval = 'abc': give ...``; a secret's value is never repeated, a long one only begun."""
    if secret:
        return f"{where}: {fix}"
    shown = repr(text) if len(text) <= SHOWN_LENGTH else repr(text[:SHOWN_LENGTH]) + "…"
    return f"{where} = {shown}: {fix}"


def max_length(kind) -> int:
    return getattr(kind, "max_length", MAX_LENGTH)


def _checked(parse, where: str, text: str | None, secret: bool = False, limit: int = MAX_LENGTH):
    text = (text or "").strip()
    if len(text) > limit:
        raise ConfigError(f"{where}: the value is too long ({len(text)} characters; at most {limit}): shorten it")
    separator = _LINE_SEPARATOR.search(text)
    if separator:
        raise ConfigError(f"{where}: a value cannot span lines (it holds U+{ord(separator[0]):04X})")
    try:
        return parse(text)
    except Invalid as error:
        raise ConfigError(problem(where, text, str(error), secret)) from None


def check_text(kind, where: str, text: str | None, needed: bool = False):
    """``text`` as ``kind`` reads it, or ConfigError naming ``where`` (a form's field, or ``[section] key``)."""
    value = _checked(kind.parse, where, text, limit=max_length(kind))
    if needed and not value:
        raise ConfigError(f"{where} is empty: {kind.fix}")
    return value


def check(section_name: str, name: str, text: str | None, label: str = ""):
    """A value for ``[section] name`` (from a form, or to be written), checked as the loader checks it."""
    where = label or f"[{section_name}] {name}"
    known = _BY_NAME.get(section_name)
    found = known.key(name) if known else None
    if found:
        value = _checked(found.parse, where, text, found.secret, max_length(found.kind))
        if found.required and not value:
            raise ConfigError(f"{where} is empty: {found.fix}")
        return value
    if known and known.any_key:
        return check_text(known.any_key, where, text)
    raise ConfigError(f"[{section_name}] {name}: not a known setting{_suggestion(section_name, name)}")


def validate(parser: configparser.ConfigParser) -> None:
    """Every value the file gives, checked (a key left out takes its default); ConfigError names the first bad one."""
    for name in parser.sections():
        known = _BY_NAME.get(name)
        for option, text in parser.items(name):
            where = f"[{name}] {option}"
            if "\n" in text.strip():
                raise ConfigError(
                    f"{where}: a value must fit on one line (the line after it is indented, so it continues the value)"
                )
            found = known.key(option) if known else None
            if found:
                _checked(found.parse, where, text, found.secret, max_length(found.kind))
            elif known and known.any_key:
                check_text(known.any_key, where, text)


def value(parser: configparser.ConfigParser, section_name: str, name: str):
    """The typed value of a key in a validated file (its default when left out)."""
    found = key(section_name, name)
    return found.parse(parser.get(section_name, name, fallback=found.default))


def unknown(parser: configparser.ConfigParser) -> list[str]:
    """Warnings for the sections and keys nothing reads (a typo, most likely), each with the nearest known name."""
    warnings = []
    for name in parser.sections():
        known = _BY_NAME.get(name)
        if known is None:
            near = difflib.get_close_matches(name, list(_BY_NAME), n=1)
            warnings.append(
                f"[{name}] is not a known section{f' (did you mean [{near[0]}]?)' if near else ''}; it is ignored"
            )
        elif not known.any_key:
            warnings.extend(
                f"[{name}] {option} is not a known key{_suggestion(name, option)}; it is ignored"
                for option in parser.options(name)
                if known.key(option) is None
            )
    return warnings


def _suggestion(section_name: str, name: str) -> str:
    """The nearest known key, in whichever section it lives (a key is often right but misplaced)."""
    near = difflib.get_close_matches(name, list(_SECTION_OF), n=1)
    if not near:
        return ""
    where = _SECTION_OF[near[0]]
    return f" (did you mean {near[0]}?)" if where == section_name else f" (did you mean [{where}] {near[0]}?)"
