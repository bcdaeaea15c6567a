"""Reading and editing the INI configuration file in place, for the console.

The file is the one the command line reads (``libraries.config``), read and checked the same way, and
every value written is checked by the same schema (``config_schema``). Edits keep every comment, key
order and unrelated setting the administrator wrote, and replace the file atomically with the same
(private) permissions.
"""

from __future__ import annotations

import configparser
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from ..core.errors import ConfigError
from . import config_schema as schema
from .config import DEFAULT_CONFIG_PATH
from .config import read as _read_checked

_INTERVAL = schema.key("sync", "interval")
DEFAULT_STATE_DIR = schema.default("sync", "state_dir")
DEFAULT_INTERVAL = _INTERVAL.typed_default  # minutes
_INTERVAL_KIND = cast(schema.Integer, _INTERVAL.kind)  # the schema declares [sync] interval a whole number of minutes
MIN_INTERVAL, MAX_INTERVAL = _INTERVAL_KIND.minimum, _INTERVAL_KIND.maximum
_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
_KEY = re.compile(r"^\s*(?P<key>[^=:#;\s][^=:]*?)\s*[=:]")
_write_lock = threading.Lock()


@dataclass(frozen=True)
class Schedule:
    """Automatic synchronization as stored in ``[sync] automatic`` and ``interval`` (minutes)."""

    enabled: bool = False
    interval: int = DEFAULT_INTERVAL


def read(path: str) -> configparser.ConfigParser:
    """The file as plain sections and keys, each value checked; keys a run needs may still be missing."""
    return _read_checked(path or DEFAULT_CONFIG_PATH)


def value(parser: configparser.ConfigParser, section: str, key: str, default: str = "") -> str:
    return parser.get(section, key, fallback=default).strip()


def state_dir(parser: configparser.ConfigParser) -> str:
    return schema.value(parser, "sync", "state_dir")


def schedule(parser: configparser.ConfigParser) -> Schedule:
    return Schedule(schema.value(parser, "sync", "automatic"), schema.value(parser, "sync", "interval"))


def check_interval(text: str) -> int:
    return schema.check("sync", "interval", str(text), label="interval")


def check_domain(text: str) -> str:
    return schema.check("google", "domain", text, label="domain")


def check_admin_email(text: str, domain: str = "") -> str:
    email = schema.check("google", "admin_email", text, label="administrator email")
    if domain and not email.endswith("@" + domain):
        raise ConfigError(f"administrator email {email}: it must be an address in the domain {domain}")
    return email


def update(path: str, section: str, values: Mapping[str, str | None]) -> None:
    """Set (or, for None, remove) keys of one section, keeping everything else as written.

    Each value is checked as the loader checks it, so the console never writes what a run would refuse.
    """
    for key, new in values.items():
        if new is not None:
            schema.check(section, key, new)
    with _write_lock:
        original = Path(path).read_text(encoding="utf-8") if os.path.exists(path) else ""
        # Only "\n" ends a line for configparser; splitlines() would also split on U+2028 and friends.
        lines = original.split("\n")
        _replace_file(path, _edited(lines[:-1] if lines[-1] == "" else lines, section, values))


def _edited(lines: list[str], section: str, values: Mapping[str, str | None]) -> str:
    pending = dict(values)
    output: list[str] = []
    current = None
    section_end = None  # index in output after the last key line of `section`
    for line in lines:
        header = _SECTION.match(line)
        if header:
            current = header["name"].strip()
            output.append(line)
            if current == section:
                section_end = len(output)
            continue
        key = _KEY.match(line)
        if current == section and key and key["key"].strip().lower() in pending:
            new = pending.pop(key["key"].strip().lower())
            if new is not None:
                output.append(f"{key['key'].strip()} = {new}")
                section_end = len(output)
            continue
        output.append(line)
        if current == section and line.strip() and not line.lstrip().startswith(("#", ";")):
            section_end = len(output)
    additions = [f"{key} = {new}" for key, new in pending.items() if new is not None]
    if additions:
        if section_end is None:
            if output and output[-1].strip():
                output.append("")
            output.append(f"[{section}]")
            section_end = len(output)
        output[section_end:section_end] = additions
    return "\n".join(output) + "\n"


def _replace_file(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o600
    handle, temporary = tempfile.mkstemp(prefix=".google_sync.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode & 0o770)  # never world-readable: it may hold the LDAP password
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


# -- groups, posting policy, attributes and org units (the console's Groups and Attributes pages) --------

NOT_MANAGED = ""


@dataclass(frozen=True)
class GroupChoice:
    """``[sync] groups`` / ``exclude_groups`` / ``create_missing_members`` / ``posting_policy`` and ``[posting_policy]``, as written."""

    all_groups: bool = True
    groups: tuple[str, ...] = ()  # named groups (without "*")
    exclude: tuple[str, ...] = ()
    create_missing_members: bool = False
    posting_default: str = NOT_MANAGED
    posting: dict = field(default_factory=dict)  # lowercased group name → policy ("" = explicitly not managed)

    def chosen(self, name: str) -> bool:
        """Whether the selection (not the reserved-name rules) takes ``name``."""
        return (self.all_groups or name in self.groups) and name not in self.exclude

    def policy_of(self, name: str) -> str | None:
        """The group's own policy, or None when it follows the default."""
        return self.posting.get(name.lower())


def group_choice(parser: configparser.ConfigParser) -> GroupChoice:
    named = schema.value(parser, "sync", "groups")
    posting = dict(parser.items("posting_policy")) if parser.has_section("posting_policy") else {}
    return GroupChoice(
        all_groups="*" in named,
        groups=tuple(name for name in named if name != "*"),
        exclude=schema.value(parser, "sync", "exclude_groups"),
        create_missing_members=schema.value(parser, "sync", "create_missing_members"),
        posting_default=schema.value(parser, "sync", "posting_policy"),
        posting={name: schema.POSTING_POLICY.parse(policy.strip()) for name, policy in posting.items()},
    )


def listable_group(name: str) -> bool:
    """Whether a group name can stand in ``[sync] groups`` (a space-, comma-separated list) and as an INI key."""
    return bool(re.fullmatch(schema.GROUP_NAMES, name))


def check_posting_policy(text: str) -> str:
    return schema.check_text(schema.POSTING_POLICY, "posting policy", text)


NO_GROUPS = "none"  # [sync] groups = none: synchronize users only


def save_group_choice(path: str, shown: list[str], choice: GroupChoice) -> None:
    """Write what a page that listed the groups ``shown`` chose: ``choice.groups`` are the ticked ones.

    With All groups on, the unticked ones go to ``exclude_groups``. Names the
    page did not show (not in the directory right now) keep their place in
    ``groups`` and ``exclude_groups`` and their posting policies, so saving
    never silently drops what an administrator wrote.
    """
    unsafe = [name for name in (*shown, *choice.groups) if not listable_group(name)]
    if unsafe:
        raise ConfigError(
            f"group {unsafe[0]!r}: a name with spaces, commas or any of = : # ; [ ] cannot be listed; use All groups"
        )
    before = group_choice(read(path))
    ticked = set(choice.groups)
    kept_groups = [name for name in before.groups if name not in shown]
    kept_exclude = [name for name in before.exclude if name not in shown]
    if choice.all_groups:
        groups, exclude = "*", [*kept_exclude, *(name for name in shown if name not in ticked)]
    else:
        chosen = [name for name in shown if name in ticked] + kept_groups
        groups, exclude = " ".join(chosen) or NO_GROUPS, kept_exclude
    parser = read(path)
    update(
        path,
        "sync",
        {
            "groups": groups,
            "exclude_groups": " ".join(exclude) or _cleared(parser, "sync", "exclude_groups"),
            "create_missing_members": "yes" if choice.create_missing_members else "no",
            "posting_policy": choice.posting_default or _cleared(parser, "sync", "posting_policy"),
        },
    )
    policies = {}
    for name in shown:
        own = choice.policy_of(name)
        # An empty override under an empty default says nothing, and would only make the scope look needed.
        policies[name.lower()] = None if own is None or (own == NOT_MANAGED and not choice.posting_default) else own
    _update_section(path, "posting_policy", policies)


def _cleared(parser: configparser.ConfigParser, section: str, key: str, empty: str = "") -> str | None:
    """The value that switches ``key`` off: kept as an empty line where the file has it (its comment stays meaningful), else left out."""
    return empty if parser.has_option(section, key) else None


def _update_section(path: str, section: str, values: dict[str, str | None]) -> None:
    """Like ``update``, but never adds an empty section for keys that are all removed."""
    if any(new is not None for new in values.values()) or read(path).has_section(section):
        update(path, section, values)


@dataclass(frozen=True)
class FieldMapping:
    key: str  # [attributes] key
    label: str
    google_field: str
    default: str  # the LDAP attribute used when the key is absent
    attribute: str  # as configured; "" = off


# (key, label, Google field), in the schema's order
ATTRIBUTE_FIELDS = tuple((key.name, key.label, key.help.replace("`", "")) for key in schema.section("attributes").keys)


def attribute_mappings(parser: configparser.ConfigParser) -> list[FieldMapping]:
    return [
        FieldMapping(key, label, google, _suggested("attributes", key), schema.value(parser, "attributes", key))
        for key, label, google in ATTRIBUTE_FIELDS
    ]


def _suggested(section: str, name: str) -> str:
    """The attribute a field offers when switched on: its default, or for a field off by default its usual attribute."""
    key = schema.key(section, name)
    return key.default or key.example or ""


def check_attribute(key: str, text: str) -> str:
    """An LDAP attribute name for ``[attributes] key`` (a field switched on), checked as ``config.load`` checks it."""
    if not (text or "").strip():
        raise ConfigError(f"[attributes] {key}: give the LDAP attribute, or switch the field off")
    return schema.check("attributes", key, text)


def save_attributes(path: str, attributes: dict[str, str]) -> None:
    """Write every field of ``[attributes]``: the LDAP attribute, or nothing for a field switched off."""
    update(path, "attributes", {key: attributes.get(key, "") for key, _, _ in ATTRIBUTE_FIELDS} | attributes)


@dataclass(frozen=True)
class Domains:
    """``[google] domains`` and ``default_domain`` as the Attributes page shows them."""

    others: str = ""  # as written: nothing, * or domain names
    default: str = ""  # nothing: the primary domain

    @property
    def from_google(self) -> bool:
        return self.others.strip() == "*"


def domains(parser: configparser.ConfigParser) -> Domains:
    return Domains(
        " ".join(schema.value(parser, "google", "domains")), schema.value(parser, "google", "default_domain")
    )


def check_domains(others: str, default: str, primary: str) -> Domains:
    """The domains from a form, checked as ``config.load`` checks them (the default among the listed ones)."""
    listed = schema.check("google", "domains", others, label="Other domains")
    default_domain = schema.check("google", "default_domain", default, label="Default domain")
    if default_domain and "*" not in listed and default_domain not in {primary, *listed}:
        raise ConfigError(
            f"Default domain {default_domain} is not one of the account's domains: add it to the other domains first"
        )
    return Domains(" ".join(listed), default_domain)


def save_domains(path: str, chosen: Domains) -> None:
    update(path, "google", {"domains": chosen.others, "default_domain": chosen.default})


def custom_attributes(parser: configparser.ConfigParser) -> list[tuple[str, str]]:
    """``[custom_attributes]``: (schema.field in lower case, as configparser gives keys; LDAP attribute)."""
    if not parser.has_section("custom_attributes"):
        return []
    return [(key, value.strip()) for key, value in parser.items("custom_attributes") if value.strip()]


def check_custom_attribute(key: str, attribute: str) -> tuple[str, str]:
    """A [custom_attributes] line from a form, checked as ``config.load`` checks it."""
    key = schema.check_text(schema.CUSTOM_FIELD, "custom field", key, needed=True)
    return key, schema.check_text(schema.ATTRIBUTE_NAME, f"LDAP attribute for {key}", attribute, needed=True)


def save_custom_attribute(path: str, key: str, attribute: str | None) -> None:
    """Map (or, with None, unmap) one custom field; an existing line keeps its spelling."""
    known = (
        {name.lower() for name in read(path).options("custom_attributes")}
        if read(path).has_section("custom_attributes")
        else set()
    )
    _update_section(path, "custom_attributes", {key.lower() if key.lower() in known else key: attribute})


@dataclass(frozen=True)
class Licenses:
    """``[licenses]`` as the Attributes page shows it."""

    product: str = ""
    sku: str = ""
    release_on_suspend: bool = False


def licenses(parser: configparser.ConfigParser) -> Licenses:
    return Licenses(*(schema.value(parser, "licenses", name) for name in ("product", "sku", "release_on_suspend")))


def check_licenses(product: str, sku: str, release_on_suspend: bool) -> Licenses:
    """The licence from a form, checked as ``config.load`` checks it (both IDs, or neither)."""
    chosen = Licenses(
        schema.check("licenses", "product", product, label="Product"),
        schema.check("licenses", "sku", sku, label="SKU"),
        release_on_suspend,
    )
    if bool(chosen.product) != bool(chosen.sku):
        raise ConfigError("Give both the product and the SKU, or neither to leave licences alone")
    return chosen


def save_licenses(path: str, chosen: Licenses) -> None:
    _update_section(
        path,
        "licenses",
        {
            "product": chosen.product,
            "sku": chosen.sku,
            "release_on_suspend": "yes" if chosen.release_on_suspend else "no",
        },
    )


@dataclass(frozen=True)
class OrgUnits:
    source: str = ""  # "", "dn" or "attribute"
    attribute: str = ""
    root: str = "/"

    @property
    def setting(self) -> str:
        return {"dn": "dn", "attribute": f"attribute:{self.attribute}"}.get(self.source, "")


def org_units(parser: configparser.ConfigParser) -> OrgUnits:
    setting = schema.value(parser, "sync", "org_units")
    root = schema.value(parser, "sync", "org_unit_root")
    if setting.startswith("attribute:"):
        return OrgUnits("attribute", setting.partition(":")[2], root)
    return OrgUnits("dn" if setting == "dn" else "", "", root)


def check_org_units(source: str, attribute: str, root: str) -> OrgUnits:
    """The org units setting from a form, checked as ``config.load`` checks ``org_units`` and ``org_unit_root``."""
    if source not in ("", "dn", "attribute"):
        raise ConfigError(f"org units {source!r}: choose off, the directory tree or an attribute")
    name = (
        schema.check_text(schema.ATTRIBUTE_NAME, "org units attribute", attribute, needed=True)
        if source == "attribute"
        else ""
    )
    return OrgUnits(source, name, schema.check("sync", "org_unit_root", root, label="org unit root"))


def save_org_units(path: str, units: OrgUnits) -> None:
    parser = read(path)
    update(
        path,
        "sync",
        {
            "org_units": units.setting or _cleared(parser, "sync", "org_units"),
            "org_unit_root": units.root if units.root != "/" else _cleared(parser, "sync", "org_unit_root", "/"),
        },
    )
