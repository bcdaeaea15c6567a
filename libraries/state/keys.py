"""Per-installation keys (the key of the password fingerprints, the salt key of cleartext passwords).

Each lives in its own file under ``<state_dir>/secrets`` (directory 0700, file 0600), never in the
state database: the database holds HMAC fingerprints of password hashes, and with their key beside
them a copied database would let anyone test guesses offline. A key an older version kept in the
database is moved out on first use (and deleted there), so the fingerprints made with it stay valid.

The database holds only a *check value* of each key (an HMAC of a fixed text: it reveals nothing of
the key). Servers sharing one PostgreSQL database must share the keys too, or each would make its own
and every password would be pushed again at each change of leader: a server whose key file is missing
or differs from the one the database's fingerprints were made with refuses to run and says to copy the
file. (A SQLite database belongs to one server: a lost key is made anew, every password is then pushed
once more.)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from pathlib import Path

from ..core.errors import ConfigError

log = logging.getLogger(__name__)


def ensure_private_dir(path: str) -> str:
    """A directory only its owner may enter (made so if it was not)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


KEY_BYTES = 32
KEY_NAMES = ("password_salt_key", "password_fingerprint_key")
CHECK_TEXT = b"app-google-sync installation key check"


def installation_key(secrets_dir: str, name: str, store) -> bytes:
    """The key called ``name``: read from its file, moved there from ``store``, or created; always the one the
    database's fingerprints were made with (ConfigError naming the file to copy otherwise)."""
    path = Path(secrets_dir) / f"{name}.key"
    existing = _read(path)
    if existing is not None:
        _forget_legacy(store, name)
        _agree(store, name, path, existing, created=False)
        return existing
    legacy = store.get_value(name)
    if not legacy and store.get_value(check_name(name)) is not None:
        _made_elsewhere(store, name, path)
    key = bytes.fromhex(legacy) if legacy else secrets.token_bytes(KEY_BYTES)
    _create(path, key)
    stored = _read(path)  # another process may have created it first: its key is the one
    if stored is None:  # linked into place a moment ago, so something removed it since
        raise ConfigError(f"the key file {path} disappeared as it was created: check what cleans [sync] state_dir")
    key = stored
    _forget_legacy(store, name)
    if legacy:
        log.info("moved %s out of the state database into %s", name, path)
    _agree(store, name, path, key, created=not legacy)
    return key


def check_name(name: str) -> str:
    return f"{name}.check"


def check_value(key: bytes) -> str:
    return hmac.new(key, CHECK_TEXT, hashlib.sha256).hexdigest()[:32]


def _shared(store) -> bool:
    return store.engine.dialect.name != "sqlite"


def _agree(store, name: str, path: Path, key: bytes, created: bool) -> None:
    """Record the key's check value, or make sure it is the one recorded (another server's key otherwise)."""
    recorded = store.first_value(check_name(name), check_value(key))
    if recorded == check_value(key):
        return
    if not _shared(store):  # this server's own database: its key file was replaced, the fingerprints are made anew
        store.set_value(check_name(name), check_value(key))
        log.warning(
            "%s is not the key the state database's fingerprints were made with: every password is pushed once more",
            path,
        )
        return
    if created:  # another server recorded its key a moment before: ours was never used
        path.unlink(missing_ok=True)
    _refuse(name, path, missing=created)


def _refuse(name: str, path: Path, missing: bool) -> None:
    raise ConfigError(
        f"{path} {'is missing' if missing else 'differs from the key'}: the shared state database's "
        f"fingerprints were made with another server's {name}; copy {path.name} from a server of this "
        f"database into {path.parent} (mode 0600), or run `google-sync db new-keys` to make new ones "
        "(every password is then pushed once more)"
    )


def _made_elsewhere(store, name: str, path: Path) -> None:
    """No key file here, but the database's fingerprints were made with one: on a shared database, another server's."""
    if _shared(store):
        _refuse(name, path, missing=True)
    else:
        log.warning("%s was lost: a new key is made, every password is pushed once more", path)
        store.delete_value(check_name(name))


def new_keys(secrets_dir: str, store) -> list[Path]:
    """``db new-keys``: this server's key files deleted and the database's check values forgotten, so the next
    command makes new keys (every password is pushed once more); returns the files deleted."""
    deleted = []
    for name in KEY_NAMES:
        store.delete_value(check_name(name))
        path = Path(secrets_dir) / f"{name}.key"
        if path.exists():
            path.unlink()
            deleted.append(path)
    return deleted


def _read(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"cannot read the key file {path} ({getattr(error, 'strerror', None) or error}): check [sync] state_dir and its secrets directory"
        ) from None
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ConfigError(
            f"the key file {path} is damaged (not hexadecimal): restore it from a backup, or delete it (every password is then pushed once more)"
        ) from None


def _create(path: Path, key: bytes) -> None:
    """Write the key to a private temporary file, then link it into place: never overwrites a key already there."""
    try:
        ensure_private_dir(str(path.parent))
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise ConfigError(f"cannot create {path.parent} ({error.strerror}): check [sync] state_dir") from None
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="ascii") as stream:
            stream.write(key.hex() + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _forget_legacy(store, name: str) -> None:
    if store.get_value(name) is not None:
        store.delete_value(name)
