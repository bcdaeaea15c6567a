"""Per-installation keys (the key of the password fingerprints, the salt key of cleartext passwords).

Each lives in its own file under ``<state_dir>/secrets`` (directory 0700, file 0600), never in the
state database: the database holds HMAC fingerprints of password hashes, and with their key beside
them a copied database would let anyone test guesses offline. A key an older version kept in the
database is moved out on first use (and deleted there), so the fingerprints made with it stay valid.
"""
from __future__ import annotations

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


def installation_key(secrets_dir: str, name: str, store) -> bytes:
    """The key called ``name``: read from its file, moved there from ``store``, or created."""
    path = Path(secrets_dir) / f"{name}.key"
    existing = _read(path)
    if existing is not None:
        _forget_legacy(store, name)
        return existing
    legacy = store.get_value(name)
    key = bytes.fromhex(legacy) if legacy else secrets.token_bytes(KEY_BYTES)
    _create(path, key)
    stored = _read(path)  # another process may have created it first: its key is the one
    if stored is None:  # linked into place a moment ago, so something removed it since
        raise ConfigError(f"the key file {path} disappeared as it was created: check what cleans [sync] state_dir")
    key = stored
    _forget_legacy(store, name)
    if legacy:
        log.info("moved %s out of the state database into %s", name, path)
    return key


def _read(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the key file {path} ({getattr(error, 'strerror', None) or error}): check [sync] state_dir and its secrets directory") from None
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"the key file {path} is damaged (not hexadecimal): restore it from a backup, or delete it (every password is then pushed once more)") from None


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
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


def _forget_legacy(store, name: str) -> None:
    if store.get_value(name) is not None:
        store.delete_value(name)
