"""Reading and editing the INI configuration file in place, for the console.

The file is the one the command line reads (``libraries.config``). Edits keep
every comment, key order and unrelated setting the administrator wrote, and
replace the file atomically with the same (private) permissions.
"""
from __future__ import annotations

import configparser
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .config import DEFAULT_CONFIG_PATH
from .errors import ConfigError

DEFAULT_STATE_DIR = "/var/lib/app-google-sync"
DEFAULT_INTERVAL = 60  # minutes
MIN_INTERVAL, MAX_INTERVAL = 5, 7 * 24 * 60
_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")
_KEY = re.compile(r"^\s*(?P<key>[^=:#;\s][^=:]*?)\s*[=:]")
_DOMAIN = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")
_EMAIL = re.compile(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9-]+(\.[a-z0-9-]+)+")
_write_lock = threading.Lock()


@dataclass(frozen=True)
class Schedule:
    """Automatic synchronization as stored in ``[sync] automatic`` and ``interval`` (minutes)."""

    enabled: bool = False
    interval: int = DEFAULT_INTERVAL


def read(path: str) -> configparser.ConfigParser:
    """The file as plain sections and keys, without validating the values (see ``config.load`` for that)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path or DEFAULT_CONFIG_PATH, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as error:
        raise ConfigError(f"cannot read configuration file {path}: {error.strerror}") from None
    except configparser.Error as error:
        raise ConfigError(f"{path}: {error}") from None
    return parser


def value(parser: configparser.ConfigParser, section: str, key: str, default: str = "") -> str:
    return parser.get(section, key, fallback=default).strip()


def state_dir(parser: configparser.ConfigParser) -> str:
    return value(parser, "sync", "state_dir") or DEFAULT_STATE_DIR


def schedule(parser: configparser.ConfigParser) -> Schedule:
    """The stored schedule; an unreadable value counts as off, so a typo never starts runs."""
    enabled = value(parser, "sync", "automatic", "no").lower() in ("1", "yes", "true", "on")
    try:
        interval = int(value(parser, "sync", "interval", str(DEFAULT_INTERVAL)))
    except ValueError:
        return Schedule(False, DEFAULT_INTERVAL)
    return Schedule(enabled, min(max(interval, MIN_INTERVAL), MAX_INTERVAL))


def check_interval(text: str) -> int:
    try:
        minutes = int(str(text).strip())
    except ValueError:
        raise ConfigError(f"interval {text!r}: give a whole number of minutes") from None
    if not MIN_INTERVAL <= minutes <= MAX_INTERVAL:
        raise ConfigError(f"interval {minutes}: give between {MIN_INTERVAL} and {MAX_INTERVAL} minutes")
    return minutes


def check_domain(text: str) -> str:
    domain = text.strip().lower()
    if not _DOMAIN.fullmatch(domain):
        raise ConfigError(f"domain {text!r}: give the Google Workspace primary domain, e.g. example.com")
    return domain


def check_admin_email(text: str, domain: str = "") -> str:
    email = text.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise ConfigError(f"administrator email {text!r}: give the address of a Google super administrator, e.g. admin@example.com")
    if domain and not email.endswith("@" + domain):
        raise ConfigError(f"administrator email {email}: it must be an address in the domain {domain}")
    return email


def update(path: str, section: str, values: dict[str, str | None]) -> None:
    """Set (or, for None, remove) keys of one section, keeping everything else as written."""
    for key, new in values.items():
        if new is not None and ("\n" in new or "\r" in new):
            raise ConfigError(f"[{section}] {key}: a value cannot span lines")
    with _write_lock:
        original = Path(path).read_text(encoding="utf-8") if os.path.exists(path) else ""
        _replace_file(path, _edited(original.splitlines(), section, values))


def _edited(lines: list[str], section: str, values: dict[str, str | None]) -> str:
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
