"""The INI configuration file, read once and checked so that a bad setting fails early, naming its file, section and key.

What each key means, its default and its check are declared in ``config_schema``; this module reads
the file (explaining a syntax error without repeating the line, which may hold a password) and builds
the settings the rest of the code uses.
"""

from __future__ import annotations

import codecs
import configparser
import io
import logging
import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path

import ldap.dn

from ..core.errors import ConfigError
from . import config_schema as schema

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = "/etc/clearos/google_sync.conf"
GOOGLE_API_ENDPOINT = schema.default("google", "api_endpoint")
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
RESERVED_USERS = frozenset({"winadmin", "nomembers"})
RESERVED_GROUPS = frozenset({"allusers", "guests"})


def is_reserved_group(name: str, enabled_group: str) -> bool:
    """ClearOS's system groups, the Google Apps switch (enabled_group) and every app's *_plugin switch group: never
    synchronized, whatever their case."""
    lowered = name.lower()
    return lowered in RESERVED_GROUPS or lowered == enabled_group.lower() or lowered.endswith("_plugin")


# configparser copies the keys of a [DEFAULT] section into every section; a name no header line can
# spell keeps [DEFAULT] an ordinary section, reported as unknown like any other.
_NO_DEFAULT_SECTION = "\n"
_SECTION_HEADER = re.compile(r"^\s*\[(?P<name>[^\]]+)\]")
_warned: set[str] = set()

_ldap = partial(schema.default, "ldap")
_google = partial(schema.default, "google")
_sync = partial(schema.default, "sync")
_attribute = partial(schema.default, "attributes")
_licenses = partial(schema.default, "licenses")
_offboarding = partial(schema.default, "offboarding")
_notify = partial(schema.default, "notify")
_worker = partial(schema.default, "worker")
_sources = partial(schema.default, "sources")


@dataclass(frozen=True)
class LdapSettings:
    uri: str = _ldap("uri")
    bind_dn: str = _ldap("bind_dn")  # empty: SASL EXTERNAL over ldapi://, else anonymous
    bind_password: str = field(default=_ldap("bind_password"), repr=False)
    base_dn: str = _ldap("base_dn")
    users_dn: str = _ldap("users_dn")
    groups_dn: str = _ldap("groups_dn")
    user_filter: str = _ldap("user_filter")
    group_filter: str = _ldap("group_filter")
    enabled_group: str = _ldap("enabled_group")
    disabled_filter: str = _ldap("disabled_filter")
    mail_attribute: str = _ldap("mail_attribute")
    password_attributes: tuple[str, ...] = _ldap("password_attributes")
    page_size: int = _ldap("page_size")
    timeout: int = _ldap("timeout")
    start_tls: bool = _ldap("start_tls")
    ca_file: str = _ldap("ca_file")


@dataclass(frozen=True)
class GoogleSettings:
    domain: str = _google("domain")
    domains: tuple[str, ...] = _google("domains")  # the account's other domains; ("*",): read from Google
    default_domain: str = _google("default_domain")  # empty: domain
    admin_email: str = _google("admin_email")
    credentials_file: str = _google("credentials_file")
    api_endpoint: str = _google("api_endpoint")
    token_uri: str = _google("token_uri")  # empty: the one in the key file (Google's own)
    queries_per_minute: int = _google("queries_per_minute")  # the quota the client paces itself to
    retry_deadline: float = _google("retry_deadline")  # seconds one run keeps retrying quota and server errors

    @property
    def reads_domains(self) -> bool:
        """The account's domains come from Google (domains.list), not from the file."""
        return "*" in self.domains

    @property
    def listed_domains(self) -> frozenset[str]:
        """The domains the file names: ``domain`` and those of ``domains``."""
        return frozenset({self.domain, *self.domains} - {"*"})

    @property
    def address_domain(self) -> str:
        """The domain of addresses made up from a uid or a group name."""
        return self.default_domain or self.domain

    @property
    def multi_domain(self) -> bool:
        """Users and groups are read account-wide (customer=my_customer), not from ``domain`` alone."""
        return bool(self.domains)


@dataclass(frozen=True)
class SyncSettings:
    automatic: bool = _sync("automatic")
    interval: int = _sync("interval")  # minutes between scheduled runs
    state_dir: str = _sync("state_dir")
    database_url: str = _sync("database_url")
    groups: tuple[str, ...] = _sync("groups")
    exclude_groups: tuple[str, ...] = _sync("exclude_groups")
    unmanaged_accounts: str = _sync("unmanaged_accounts")
    max_suspend: str = _sync("max_suspend")
    suspend_window: float = _sync("suspend_window")  # seconds over which max_suspend counts, from every path
    max_member_removals: str = _sync("max_member_removals")
    batch_size: int = _sync("batch_size")
    max_retries: int = _sync("max_retries")
    # New users without a syncable password get a random one; this makes Google ask them for a new one.
    change_password_at_next_login: bool = _sync("change_password_at_next_login")
    # Members of synchronized groups who lack the Google Apps option are synchronized too (seed 000's "create missing members").
    create_missing_members: bool = _sync("create_missing_members")
    # Who may post to synchronized groups: members, domain or anyone; empty: not managed (no extra scope needed).
    posting_policy: str = _sync("posting_policy")
    posting_overrides: tuple[tuple[str, str], ...] = ()  # ([posting_policy] section) group name → policy
    # Organizational units from the directory: "" (not managed), "dn" (the user's OU below users_dn) or "attribute:NAME".
    org_units: str = _sync("org_units")
    org_unit_root: str = _sync("org_unit_root")  # the Google org unit the directory's units go under
    push_delay: float = _sync("push_delay")  # seconds within which more changes to a just-pushed entry go together
    push_retry_max: float = _sync(
        "push_retry_max"
    )  # the longest wait, in seconds, between two attempts of a failed push
    poll_interval: int = _sync(
        "poll_interval"
    )  # seconds between modifyTimestamp polls when the directory has no syncprov

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.state_dir) / 'state.db'}"

    @property
    def secrets_dir(self) -> str:
        """Keys kept out of the state database (mode 0700): a copy of the database alone reveals nothing."""
        return str(Path(self.state_dir) / "secrets")


@dataclass(frozen=True)
class SourceSettings:
    """[sources]: who goes to Google, and how (the sync method)."""

    subtrees: tuple[schema.Subtree, ...] = _sources("subtrees")
    member_groups: tuple[str, ...] = _sources("member_groups")
    switch: str = _sources("switch")  # "yes", "no", or "" (yes when no subtree and no group is given)
    exclusion_groups: tuple[str, ...] = _sources("exclusion_groups")
    method: str = _sources("method")  # users, target_group or source_groups
    target_group: str = _sources("target_group")  # an address, or a name completed with the default domain
    pilot_source: str = _sources("pilot_source")
    pilot_users: tuple[str, ...] = _sources("pilot_users")

    @property
    def uses_switch(self) -> bool:
        return self.switch == "yes" or (self.switch == "" and not self.subtrees and not self.member_groups)

    @property
    def pilot(self) -> bool:
        return bool(self.pilot_source or self.pilot_users)

    @property
    def places_users(self) -> bool:
        """A subtree names the Google org unit of its users: org units are managed even without [sync] org_units."""
        return any(subtree.org_unit for subtree in self.subtrees)

    def target_address(self, domain: str) -> str:
        if self.method != "target_group" or not self.target_group:
            return ""
        return self.target_group if "@" in self.target_group else f"{self.target_group}@{domain}"


@dataclass(frozen=True)
class AttributeMap:
    """Which LDAP attribute feeds each optional Google field. Empty: not synchronized, Google's value is never touched."""

    title: str = _attribute("title")  # organizations[primary].title
    department: str = _attribute("department")  # organizations[primary].department
    phone: str = _attribute("phone")  # phones[type=work]
    mobile: str = _attribute("mobile")  # phones[type=mobile]
    employee_id: str = _attribute("employee_id")  # externalIds[type=organization]
    aliases: str = _attribute("aliases")  # aliases, those in the domain (OpenLDAP's misc schema)
    manager: str = _attribute("manager")  # relations[type=manager], from the manager's DN; off unless set
    photo: str = _attribute("photo")  # users.photos, from a binary attribute such as jpegPhoto; off unless set

    @property
    def ldap_attributes(self) -> list[str]:
        return [name for name in vars(self).values() if name]


@dataclass(frozen=True)
class LicenseSettings:
    """[licenses]: which licence users get; off while ``product`` is empty."""

    product: str = _licenses("product")
    sku: str = _licenses("sku")
    release_on_suspend: bool = _licenses("release_on_suspend")


@dataclass(frozen=True)
class OffboardingSettings:
    """[offboarding]: what follows this tool's suspension of a leaver; every step off by default."""

    sign_out: bool = _offboarding("sign_out")
    revoke_tokens: bool = _offboarding("revoke_tokens")
    revoke_app_passwords: bool = _offboarding("revoke_app_passwords")
    hide_from_directory: bool = _offboarding("hide_from_directory")
    move_to_org_unit: str = _offboarding("move_to_org_unit")  # "" = not moved
    transfer_data_to: str = _offboarding("transfer_data_to")  # "", "manager" or an address
    transfer_fallback: str = _offboarding("transfer_fallback")
    transfer_after: float = _offboarding("transfer_after")  # seconds
    transfer_applications: tuple[str, ...] = _offboarding("transfer_applications")
    drive_privacy: tuple[str, ...] = _offboarding("drive_privacy")

    @property
    def security(self) -> bool:
        """A step of the account-security API is on (scope admin.directory.user.security)."""
        return self.sign_out or self.revoke_tokens or self.revoke_app_passwords

    @property
    def reads(self) -> bool:
        """Planning needs more than the account: its tokens, app passwords, or who receives its data."""
        return self.revoke_tokens or self.revoke_app_passwords or bool(self.transfer_data_to)

    @property
    def any(self) -> bool:
        return self.security or self.hide_from_directory or bool(self.move_to_org_unit or self.transfer_data_to)


@dataclass(frozen=True)
class NotifySettings:
    """[notify]: e-mail when synchronization needs attention. The SMTP password stays in its file until a message is sent."""

    email_to: tuple[str, ...] = _notify("email_to")  # empty: notifications off
    email_from: str = _notify("email_from")  # empty: google-sync@<host name>
    smtp_host: str = _notify("smtp_host")
    smtp_port: int = _notify("smtp_port")
    starttls: bool = _notify("starttls")
    username: str = _notify("username")
    password_file: str = _notify("password_file")
    allow_cleartext_auth: bool = _notify("allow_cleartext_auth")  # yes: a login may go out unencrypted
    when: str = _notify("when")  # failures, changes or never
    min_interval: float = _notify("min_interval")  # seconds between two messages of one kind
    console_url: str = _notify("console_url")  # the plugin's base URL, ending in "/"

    @property
    def enabled(self) -> bool:
        return bool(self.email_to) and self.when != "never"


@dataclass(frozen=True)
class WorkerSettings:
    metrics_address: str = _worker("metrics_address")  # host:port of the Prometheus endpoint; empty: off


@dataclass(frozen=True)
class Settings:
    ldap: LdapSettings = LdapSettings()
    google: GoogleSettings = GoogleSettings()
    sync: SyncSettings = SyncSettings()
    sources: SourceSettings = SourceSettings()
    attributes: AttributeMap = AttributeMap()
    # [custom_attributes]: ("schema.field" as written, lower case; LDAP attribute), off when empty
    custom_attributes: tuple[tuple[str, str], ...] = ()
    licenses: LicenseSettings = LicenseSettings()
    offboarding: OffboardingSettings = OffboardingSettings()
    notify: NotifySettings = NotifySettings()
    worker: WorkerSettings = WorkerSettings()
    path: str = ""
    warnings: tuple[str, ...] = ()  # unknown sections and keys, each with the nearest known name

    @property
    def manages_org_units(self) -> bool:
        """Org units are read and users placed: by [sync] org_units, or by a source subtree naming its unit."""
        return bool(self.sync.org_units) or self.sources.places_users


def config_path(path: str | None = None) -> str:
    """The configuration file to read: ``path``, else ``GOOGLE_SYNC_CONFIG``, else the ClearOS default."""
    return str(path or os.environ.get("GOOGLE_SYNC_CONFIG") or DEFAULT_CONFIG_PATH)


def load(path: str | None = None) -> Settings:
    """Read and check the configuration file (``GOOGLE_SYNC_CONFIG`` or the ClearOS default): everything a run needs."""
    path = config_path(path)
    parser = read(path)
    try:
        _require(parser)
        ldap_settings = _ldap_settings(parser)
        return Settings(
            ldap=ldap_settings,
            google=_checked_domains(GoogleSettings(**_fields(parser, "google"))),
            sync=_usable(sync_settings(parser)),
            sources=_checked_sources(SourceSettings(**_fields(parser, "sources")), ldap_settings),
            attributes=AttributeMap(**_fields(parser, "attributes")),
            custom_attributes=custom_attributes(parser),
            licenses=_checked_licenses(LicenseSettings(**_fields(parser, "licenses"))),
            offboarding=_checked_offboarding(OffboardingSettings(**_fields(parser, "offboarding"))),
            notify=NotifySettings(**_fields(parser, "notify")),
            worker=WorkerSettings(**_fields(parser, "worker")),
            path=path,
            warnings=unknown_settings(parser, path),
        )
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def load_sync(path: str) -> SyncSettings:
    """Only ``[sync]``, checked: for the scheduler, which runs while the rest may still be incomplete."""
    parser = read(path)
    try:
        return _usable(sync_settings(parser))
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def read(path: str) -> configparser.ConfigParser:
    """The file's sections and keys, every value it gives checked; unknown ones are logged once.

    Keys a run needs may be missing (the console reads a file it is still filling in): ``load`` requires them.
    """
    text = _text(path)
    parser = configparser.ConfigParser(interpolation=None, default_section=_NO_DEFAULT_SECTION)
    try:
        parser.read_file(io.StringIO(text, newline=None), source=path)
        schema.validate(parser)
    except configparser.Error as error:
        raise ConfigError(_syntax_problem(path, text, error)) from None
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    for warning in unknown_settings(parser, path):
        if warning not in _warned:
            _warned.add(warning)
            log.warning("%s", warning)
    return parser


def unknown_settings(parser: configparser.ConfigParser, path: str) -> tuple[str, ...]:
    """Unknown sections and keys (most likely typos), each with the nearest known name: for ``google-sync check``."""
    return tuple(f"{path}: {warning}" for warning in schema.unknown(parser))


def sync_settings(parser: configparser.ConfigParser) -> SyncSettings:
    """``[sync]`` and ``[posting_policy]`` of a file ``read`` checked."""
    overrides = parser.items("posting_policy") if parser.has_section("posting_policy") else []
    return SyncSettings(
        **_fields(parser, "sync"),
        posting_overrides=tuple(
            sorted((group, schema.POSTING_POLICY.parse(policy.strip())) for group, policy in overrides)
        ),
    )


def custom_attributes(parser: configparser.ConfigParser) -> tuple[tuple[str, str], ...]:
    """``[custom_attributes]`` of a file ``read`` checked: each key must name a schema and a field."""
    if not parser.has_section("custom_attributes"):
        return ()
    pairs = []
    for key, attribute in parser.items("custom_attributes"):
        if not schema.CUSTOM_KEY.fullmatch(key):
            raise ConfigError(
                f"[custom_attributes] {key}: write <SchemaName>.<fieldName> = <LDAP attribute>, e.g. HR.costCenter = departmentNumber"
            )
        if attribute.strip():
            pairs.append((key, attribute.strip()))
    return tuple(sorted(pairs))


def _text(path: str) -> str:
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read configuration file {path}: {error.strerror}") from None
    raw = raw.removeprefix(codecs.BOM_UTF8)  # Notepad's UTF-8 mark
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[: error.start].decode("utf-8").split("\n")
        key = before[-1].partition("=")[0].strip() if "=" in before[-1] else ""
        where = f" ([{_section_at(before)}] {key})" if key else f" (in [{_section_at(before)}])"
        raise ConfigError(f"line {len(before)} of {path}{where} is not UTF-8 text: save the file as UTF-8") from None


def _section_at(lines: list[str]) -> str:
    headers = [match["name"].strip() for match in map(_SECTION_HEADER.match, lines) if match]
    return headers[-1] if headers else "no section"


def _syntax_problem(path: str, text: str, error: configparser.Error) -> str:
    """What is wrong and where, without the line itself: it may hold a password."""
    if isinstance(error, configparser.DuplicateOptionError):
        return f"line {error.lineno} of {path} sets [{error.section}] {error.option} a second time: keep one of them"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"line {error.lineno} of {path} starts [{error.section}] a second time: merge the two sections"
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno} of {path} comes before any [section] header: start the file with [ldap]"
    if isinstance(error, configparser.ParsingError):
        lineno, line = error.errors[0]
        lines = text.split("\n")[:lineno]
        what = "has no '='" if "=" not in line and ":" not in line else "has no key before its '='"
        return f"line {lineno} of {path} (in [{_section_at(lines)}]) {what}: write key = value (the line is not shown: it may hold a password)"
    return f"{path}: not an INI file ({type(error).__name__})"


def _fields(parser: configparser.ConfigParser, section: str) -> dict:
    return {key.name: schema.value(parser, section, key.name) for key in schema.section(section).keys if key.field}


def _require(parser: configparser.ConfigParser) -> None:
    for section in schema.SECTIONS:
        for key in section.keys:
            if key.required and not schema.value(parser, section.name, key.name):
                raise ConfigError(f"[{section.name}] {key.name} is not set: {key.fix}")


def _ldap_settings(parser: configparser.ConfigParser) -> LdapSettings:
    values = _fields(parser, "ldap")
    base_dn = values["base_dn"]
    values["users_dn"] = values["users_dn"] or (f"ou=Users,ou=Accounts,{base_dn}" if base_dn else "")
    if not values["users_dn"]:
        raise ConfigError(
            "[ldap] users_dn is not set: give users_dn (and groups_dn), or base_dn for the ClearOS layout"
        )
    values["groups_dn"] = values["groups_dn"] or (f"ou=Groups,ou=Accounts,{base_dn}" if base_dn else values["users_dn"])
    password_file = schema.value(parser, "ldap", "bind_password_file")
    if password_file:
        values["bind_password"] = _read_secret_file(password_file)
    if values["ca_file"]:
        _check_readable("[ldap] ca_file", values["ca_file"])
    return LdapSettings(**values)


def _checked_sources(sources: SourceSettings, ldap_settings: LdapSettings) -> SourceSettings:
    """What the file alone can tell: subtrees under users_dn, a target group for that method, a pilot naming a source."""
    for subtree in sources.subtrees:
        if not is_under(subtree.dn, ldap_settings.users_dn):
            raise ConfigError(
                f"[sources] subtrees names {subtree.dn}, which is not under [ldap] users_dn = {ldap_settings.users_dn}: "
                "give a subtree under it, or set users_dn to a DN above every subtree (e.g. the base DN)"
            )
    if sources.method == "target_group" and not sources.target_group:
        raise ConfigError(
            "[sources] method = target_group but target_group is not set: give the group's address, e.g. all-staff@example.com"
        )
    if sources.method == "source_groups" and not sources.member_groups:
        raise ConfigError(
            "[sources] method = source_groups but [sources] member_groups is empty: name the groups, or use method = users"
        )
    if sources.pilot_source and pilot_source_of(sources) is None:
        named = [subtree.dn for subtree in sources.subtrees] + list(sources.member_groups)
        raise ConfigError(
            f"[sources] pilot_source = {sources.pilot_source!r} is none of the sources: give one of "
            f"{', '.join(named) if named else 'the subtrees or groups (none is configured)'}"
        )
    return sources


def with_sources(settings: Settings, texts: dict[str, str]) -> Settings:
    """``settings`` with ``[sources]`` as these texts give it (the console's form), each checked as the loader checks
    it: what a change of sources would do can be previewed before anything is written."""
    values = {
        key.name: schema.check("sources", key.name, texts.get(key.name, "")) for key in schema.section("sources").keys
    }
    return replace(settings, sources=_checked_sources(SourceSettings(**values), settings.ldap))


def pilot_source_of(sources: SourceSettings) -> schema.Subtree | str | None:
    """The subtree or group name pilot_source names (a DN compares in any spelling; a name whatever its case)."""
    wanted = sources.pilot_source
    for subtree in sources.subtrees:
        if dn_key(subtree.dn) == dn_key(wanted):
            return subtree
    return next((name for name in sources.member_groups if name.lower() == wanted.lower()), None)


@lru_cache(maxsize=65536)  # parsing a DN is slow; a run compares each user's DN with every source
def dn_key(dn: str) -> str:
    """A DN in one spelling (lower case, normalised spacing), so DNs compare whatever their spelling."""
    try:
        return ldap.dn.dn2str(ldap.dn.str2dn(dn)).lower()
    except ldap.DECODING_ERROR:
        return dn.lower()


def is_under(dn: str, base: str) -> bool:
    """Whether ``dn`` is ``base`` or an entry below it."""
    entry, top = dn_key(dn), dn_key(base)
    return entry == top or entry.endswith("," + top)


@lru_cache(maxsize=65536)
def parent_key(dn: str) -> str:
    """The DN of the entry above ``dn``, in ``dn_key``'s spelling."""
    try:
        return ldap.dn.dn2str(ldap.dn.str2dn(dn)[1:]).lower()
    except ldap.DECODING_ERROR:
        return dn.lower().partition(",")[2]


def _checked_offboarding(offboarding: OffboardingSettings) -> OffboardingSettings:
    if offboarding.transfer_data_to and not offboarding.transfer_applications:
        raise ConfigError(
            "[offboarding] transfer_applications is empty: give drive, calendar or both, or empty transfer_data_to"
        )
    if "drive" in offboarding.transfer_applications and not offboarding.drive_privacy:
        raise ConfigError("[offboarding] drive_privacy is empty: give shared, private or both")
    return offboarding


def _checked_licenses(licenses: LicenseSettings) -> LicenseSettings:
    if bool(licenses.product) != bool(licenses.sku):
        missing = "sku" if licenses.product else "product"
        raise ConfigError(
            f"[licenses] {missing} is not set: give both product and sku, or neither to leave licences alone"
        )
    return licenses


def _checked_domains(google: GoogleSettings) -> GoogleSettings:
    """A default domain the file's own domains do not include would make every made-up address fail."""
    if google.default_domain and not google.reads_domains and google.default_domain not in google.listed_domains:
        raise ConfigError(
            schema.problem(
                "[google] default_domain",
                google.default_domain,
                f"not one of the account's domains ({', '.join(sorted(google.listed_domains))}): "
                "give one of them, or add it to [google] domains",
            )
        )
    return google


def _read_secret_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"[ldap] bind_password_file = {path!r}: cannot read it ({reason})") from None


def _check_readable(key: str, path: str) -> None:
    """libldap reports a CA file it cannot open only as "option error", naming nothing: say which file and why here."""
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise ConfigError(f"{key} = {path!r}: cannot read it ({error.strerror})") from None


def _usable(sync: SyncSettings) -> SyncSettings:
    """``sync`` once its state_dir is a directory this process may write, or may create."""
    existing = sync.state_dir
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        fix = f"{existing} is a file, not a directory: give a directory"
    elif os.access(existing, os.W_OK | os.X_OK):
        return sync
    elif existing == sync.state_dir:
        fix = f"no write permission on {existing}: fix its permissions, or give another directory"
    else:
        fix = f"it cannot be created (no write permission on {existing}): create it, or give another directory"
    raise ConfigError(schema.problem("[sync] state_dir", sync.state_dir, fix))
