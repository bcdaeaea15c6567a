"""The INI configuration file, read once and validated so that a bad setting fails early, naming its key."""
from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

DEFAULT_CONFIG_PATH = "/etc/clearos/google_sync.conf"
GOOGLE_API_ENDPOINT = "https://admin.googleapis.com/"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
RESERVED_USERS = frozenset({"winadmin", "nomembers"})
RESERVED_GROUPS = frozenset({"allusers", "guests"})
MIN_ACCOUNTS_FOR_PERCENTAGE = 10


@dataclass(frozen=True)
class LdapSettings:
    uri: str = "ldap://127.0.0.1"
    bind_dn: str = ""  # empty: SASL EXTERNAL over ldapi://, else anonymous
    bind_password: str = field(default="", repr=False)
    base_dn: str = ""
    users_dn: str = ""
    groups_dn: str = ""
    user_filter: str = "(|(objectClass=posixAccount)(objectClass=inetOrgPerson))"
    group_filter: str = "(|(objectClass=posixGroup)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
    enabled_group: str = "google_apps_plugin"
    disabled_filter: str = "(|(pwdAccountLockedTime=*)(shadowExpire=1))"
    mail_attribute: str = "mail"
    password_attributes: tuple[str, ...] = ("userPassword", "clearSHA1Password")
    page_size: int = 500
    timeout: int = 30
    start_tls: bool = False
    ca_file: str = ""


@dataclass(frozen=True)
class GoogleSettings:
    domain: str = ""
    admin_email: str = ""
    credentials_file: str = ""
    api_endpoint: str = GOOGLE_API_ENDPOINT
    token_uri: str = ""  # empty: the one in the key file (Google's own)


@dataclass(frozen=True)
class SyncSettings:
    state_dir: str = "/var/lib/app-google-sync"
    database_url: str = ""
    groups: tuple[str, ...] = ("*",)
    exclude_groups: tuple[str, ...] = ()
    unmanaged_accounts: str = "ignore"
    max_suspend: str = "25%"
    batch_size: int = 100
    max_retries: int = 8
    # New users without a syncable password get a random one; this makes Google ask them for a new one.
    change_password_at_next_login: bool = False
    # Members of synchronized groups who lack the Google Apps option are synchronized too (seed 000's "create missing members").
    create_missing_members: bool = False
    # Who may post to synchronized groups: members, domain or anyone; empty: not managed (no extra scope needed).
    posting_policy: str = ""
    posting_overrides: tuple[tuple[str, str], ...] = ()  # ([posting_policy] section) group name → policy
    # Organizational units from the directory: "" (not managed), "dn" (the user's OU below users_dn) or "attribute:NAME".
    org_units: str = ""
    org_unit_root: str = "/"  # the Google org unit the directory's units go under
    push_delay: float = 1.0  # seconds a directory change waits for more changes to the same entry
    poll_interval: int = 30  # seconds between modifyTimestamp polls when the directory has no syncprov

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.state_dir) / 'state.db'}"

    def suspend_limit(self, active_accounts: int) -> int:
        """The most accounts one run may suspend, given how many are active in Google.

        A percentage only guards domains of MIN_ACCOUNTS_FOR_PERCENTAGE or more (as octoDNS does for
        records): in a tiny domain any single departure is a large share. A count always applies.
        """
        value = self.max_suspend.strip()
        if not value.endswith("%"):
            return int(value)
        if active_accounts < MIN_ACCOUNTS_FOR_PERCENTAGE:
            return active_accounts
        return int(active_accounts * float(value[:-1]) / 100)


@dataclass(frozen=True)
class AttributeMap:
    """Which LDAP attribute feeds each optional Google field. Empty: not synchronized, Google's value is never touched."""

    title: str = "title"  # organizations[primary].title
    department: str = "departmentNumber"  # organizations[primary].department
    phone: str = "telephoneNumber"  # phones[type=work]
    mobile: str = "mobile"  # phones[type=mobile]
    employee_id: str = "employeeNumber"  # externalIds[type=organization]
    aliases: str = "mailLocalAddress"  # aliases, those in the domain (OpenLDAP's misc schema)

    @property
    def ldap_attributes(self) -> list[str]:
        return [name for name in vars(self).values() if name]


@dataclass(frozen=True)
class Settings:
    ldap: LdapSettings = LdapSettings()
    google: GoogleSettings = GoogleSettings()
    sync: SyncSettings = SyncSettings()
    attributes: AttributeMap = AttributeMap()
    path: str = ""


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item for item in re.split(r"[\s,]+", value.strip()) if item)


def _as_bool(section: str, key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off", ""):
        return False
    raise ConfigError(f"[{section}] {key} = {value!r}: use yes or no")


def _as_number(section: str, key: str, value: str, minimum: float, maximum: float, kind: type = int):
    try:
        number = kind(value)
    except ValueError:
        raise ConfigError(f"[{section}] {key} = {value!r}: not a {'whole ' if kind is int else ''}number") from None
    if not minimum <= number <= maximum:
        raise ConfigError(f"[{section}] {key} = {number:g}: must be between {minimum:g} and {maximum:g}")
    return number


def _ldap_settings(raw: dict[str, str]) -> LdapSettings:
    base_dn = raw.get("base_dn", "").strip()
    defaults = LdapSettings()
    users_dn = raw.get("users_dn", "").strip() or (f"ou=Users,ou=Accounts,{base_dn}" if base_dn else "")
    groups_dn = raw.get("groups_dn", "").strip() or (f"ou=Groups,ou=Accounts,{base_dn}" if base_dn else "")
    if not users_dn:
        raise ConfigError("[ldap] users_dn is not set: give users_dn (and groups_dn), or base_dn for the ClearOS layout")
    password = raw.get("bind_password", "")
    password_file = raw.get("bind_password_file", "").strip()
    if password_file:
        password = _read_secret_file("ldap", "bind_password_file", password_file)
    settings = LdapSettings(
        uri=raw.get("uri", defaults.uri).strip(),
        bind_dn=raw.get("bind_dn", "").strip(),
        bind_password=password,
        base_dn=base_dn,
        users_dn=users_dn,
        groups_dn=groups_dn or users_dn,
        user_filter=raw.get("user_filter", defaults.user_filter).strip() or defaults.user_filter,
        group_filter=raw.get("group_filter", defaults.group_filter).strip() or defaults.group_filter,
        enabled_group=raw.get("enabled_group", defaults.enabled_group).strip(),
        disabled_filter=raw.get("disabled_filter", defaults.disabled_filter).strip(),
        mail_attribute=raw.get("mail_attribute", defaults.mail_attribute).strip(),
        password_attributes=_split_list(raw["password_attributes"]) if "password_attributes" in raw else defaults.password_attributes,
        page_size=_as_number("ldap", "page_size", raw.get("page_size", str(defaults.page_size)), 1, 100000),
        timeout=_as_number("ldap", "timeout", raw.get("timeout", str(defaults.timeout)), 1, 3600),
        start_tls=_as_bool("ldap", "start_tls", raw.get("start_tls", "no")),
        ca_file=raw.get("ca_file", "").strip(),
    )
    if not re.match(r"^ldap[si]?://", settings.uri):
        raise ConfigError(f"[ldap] uri = {settings.uri!r}: use ldap://, ldaps:// or ldapi://")
    for key in ("user_filter", "group_filter", "disabled_filter"):
        value = getattr(settings, key)
        if value and not (value.startswith("(") and value.endswith(")")):
            raise ConfigError(f"[ldap] {key} = {value!r}: an LDAP filter must be in parentheses")
    return settings


def _read_secret_file(section: str, key: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"[{section}] {key} = {path}: cannot read it ({error.strerror})") from None


def _google_settings(raw: dict[str, str]) -> GoogleSettings:
    domain = raw.get("domain", "").strip().lower()
    admin_email = raw.get("admin_email", "").strip().lower()
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
        raise ConfigError(f"[google] domain = {domain!r}: give the Google Workspace primary domain, e.g. example.com")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", admin_email):
        raise ConfigError(f"[google] admin_email = {admin_email!r}: give the email of a Google super administrator")
    endpoint = raw.get("api_endpoint", "").strip() or GOOGLE_API_ENDPOINT
    if not re.match(r"^https?://", endpoint):
        raise ConfigError(f"[google] api_endpoint = {endpoint!r}: must be an http(s) URL")
    return GoogleSettings(
        domain=domain,
        admin_email=admin_email,
        credentials_file=raw.get("credentials_file", "").strip(),
        api_endpoint=endpoint if endpoint.endswith("/") else endpoint + "/",
        token_uri=raw.get("token_uri", "").strip(),
    )


POSTING_POLICIES = ("members", "domain", "anyone")


def _groups(value: str) -> tuple[str, ...]:
    """`*` (or nothing) for every group, `none` for no group at all, else the names."""
    names = _split_list(value)
    if names == ("none",):
        return ()
    return names or ("*",)


def _posting(key: str, value: str) -> str:
    policy = value.strip().lower()
    if policy and policy not in POSTING_POLICIES:
        raise ConfigError(f"{key} = {value!r}: use members, domain or anyone (or nothing to leave posting alone)")
    return policy


def _org_units(raw: dict[str, str]) -> tuple[str, str]:
    source = raw.get("org_units", "").strip()
    if source and source != "dn" and not re.fullmatch(r"attribute:[A-Za-z][A-Za-z0-9-]*", source):
        raise ConfigError(f"[sync] org_units = {source!r}: use dn, attribute:<LDAP attribute>, or nothing")
    root = "/" + raw.get("org_unit_root", "/").strip().strip("/")
    return source, root


def _sync_settings(raw: dict[str, str], posting: dict[str, str]) -> SyncSettings:
    defaults = SyncSettings()
    org_units, org_unit_root = _org_units(raw)
    unmanaged = raw.get("unmanaged_accounts", defaults.unmanaged_accounts).strip().lower()
    if unmanaged not in ("ignore", "suspend"):
        raise ConfigError(f"[sync] unmanaged_accounts = {unmanaged!r}: use ignore or suspend")
    max_suspend = raw.get("max_suspend", defaults.max_suspend).strip()
    if not re.fullmatch(r"\d+(\.\d+)?%|\d+", max_suspend):
        raise ConfigError(f"[sync] max_suspend = {max_suspend!r}: give a count (10) or a percentage (25%)")
    return SyncSettings(
        state_dir=raw.get("state_dir", defaults.state_dir).strip(),
        database_url=raw.get("database_url", "").strip(),
        groups=_groups(raw.get("groups", "*")),
        exclude_groups=_split_list(raw.get("exclude_groups", "")),
        unmanaged_accounts=unmanaged,
        max_suspend=max_suspend,
        batch_size=_as_number("sync", "batch_size", raw.get("batch_size", str(defaults.batch_size)), 1, 1000),
        max_retries=_as_number("sync", "max_retries", raw.get("max_retries", str(defaults.max_retries)), 0, 20),
        change_password_at_next_login=_as_bool("sync", "change_password_at_next_login", raw.get("change_password_at_next_login", "no")),
        create_missing_members=_as_bool("sync", "create_missing_members", raw.get("create_missing_members", "no")),
        posting_policy=_posting("[sync] posting_policy", raw.get("posting_policy", "")),
        posting_overrides=tuple(sorted((group, _posting(f"[posting_policy] {group}", value)) for group, value in posting.items())),
        org_units=org_units,
        org_unit_root=org_unit_root,
        push_delay=_as_number("sync", "push_delay", raw.get("push_delay", str(defaults.push_delay)), 0, 600, float),
        poll_interval=_as_number("sync", "poll_interval", raw.get("poll_interval", str(defaults.poll_interval)), 1, 86400),
    )


def _attribute_map(raw: dict[str, str]) -> AttributeMap:
    known = vars(AttributeMap())
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"[attributes] {key}: unknown Google field; use one of {', '.join(known)}")
        if value.strip() and not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", value.strip()):
            raise ConfigError(f"[attributes] {key} = {value!r}: give an LDAP attribute name, or nothing to leave the field alone")
    return AttributeMap(**{key: raw.get(key, default).strip() for key, default in known.items()})


def load(path: str | None = None) -> Settings:
    """Read and validate the configuration file (``GOOGLE_SYNC_CONFIG`` or the ClearOS default)."""
    path = path or os.environ.get("GOOGLE_SYNC_CONFIG") or DEFAULT_CONFIG_PATH
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as error:
        raise ConfigError(f"cannot read configuration file {path}: {error.strerror}") from None
    except configparser.Error as error:
        raise ConfigError(f"{path}: {error}") from None
    for section in ("ldap", "google"):
        if not parser.has_section(section):
            raise ConfigError(f"{path}: section [{section}] is missing")
    section = lambda name: dict(parser.items(name)) if parser.has_section(name) else {}  # noqa: E731
    return Settings(
        ldap=_ldap_settings(section("ldap")),
        google=_google_settings(section("google")),
        sync=_sync_settings(section("sync"), section("posting_policy")),
        attributes=_attribute_map(section("attributes")),
        path=str(path),
    )
