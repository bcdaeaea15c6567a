"""Google credentials the console stores: an uploaded service-account key or an OAuth refresh token.

Files go in the secrets directory (0700, outside any web root) with mode 0600.
Their content is never logged, rendered or put in the session: only the client
ID and e-mail of a key are shown, to paste into Google's delegation page.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError
from ..state.keys import ensure_private_dir

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_FILE = "service-account.json"
AUTHORIZED_USER_FILE = "oauth-authorized-user.json"
MAX_KEY_BYTES = 64 * 1024
KEY_FIELDS = ("type", "private_key_id", "private_key", "client_email", "client_id", "token_uri")
OAUTH_CLIENT_FIELDS = ("client_id", "client_secret", "auth_uri", "token_uri")
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"


class CredentialsError(ValueError):
    """An uploaded file or an OAuth answer that cannot be used; the message says why, never what it held."""


@dataclass(frozen=True)
class Connection:
    """What the settings page may show about the stored credentials (no secret in here)."""

    kind: str  # "service_account", "authorized_user", "" (none) or "broken"
    path: str
    client_id: str = ""
    client_email: str = ""
    problem: str = ""
    managed: bool = False  # the file is one the console wrote in the secrets directory

    @property
    def connected(self) -> bool:
        return self.kind in ("service_account", "authorized_user")


def write_private(directory: str, name: str, data: dict) -> str:
    """Write JSON atomically, readable by the owner only; returns the path."""
    ensure_private_dir(directory)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        path = os.path.join(directory, name)
        os.replace(temporary, path)
        return path
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def parse_service_account_key(raw: bytes) -> dict:
    """The uploaded key, checked for shape and a loadable private key."""
    if len(raw) > MAX_KEY_BYTES:
        raise CredentialsError("the file is too large to be a service-account key")
    try:
        info = json.loads(raw.decode("utf-8"))
    except RecursionError:  # '[' * 32000: Python's parser recurses once per level
        raise CredentialsError(
            "the file nests too deeply to be a service-account key: download the key again from the "
            "Google Cloud console (Keys › Add key › JSON)"
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise CredentialsError(
            "the file is not JSON: download the key again from the Google Cloud console (Keys › Add key › JSON)"
        ) from None
    if not isinstance(info, dict):
        raise CredentialsError("the file is not a service-account key")
    if info.get("type") != "service_account":
        kind = info.get("type") or ("an OAuth client" if "web" in info or "installed" in info else "unknown")
        raise CredentialsError(
            f"the file is of type {kind!r}, not a service-account key: create a JSON key for a service account"
        )
    missing = [name for name in KEY_FIELDS if not str(info.get(name, "")).strip()]
    if missing:
        raise CredentialsError(f"the key lacks {', '.join(missing)}: download a new JSON key")
    if "@" not in info["client_email"] or not str(info["client_id"]).isdigit():
        raise CredentialsError("the key's client_email or client_id is not valid: download a new JSON key")
    try:
        from google.oauth2 import service_account  # noqa: PLC0415

        service_account.Credentials.from_service_account_info(info)
    except (ValueError, KeyError, TypeError):
        raise CredentialsError("the key's private key cannot be read: download a new JSON key") from None
    _require_rsa(info["private_key"])
    return info


def _require_rsa(pem: str) -> None:
    """Google signs service-account tokens with RS256 only: another kind of key loads, then fails at the first token."""
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: PLC0415

    try:
        key = load_pem_private_key(str(pem).encode("utf-8"), password=None)
    except (ValueError, TypeError):
        raise CredentialsError("the key's private key cannot be read: download a new JSON key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.replace("PrivateKey", "") or "another kind"
        raise CredentialsError(
            f"the private key is not an RSA key ({kind}), and Google signs service-account tokens with "
            "RS256 only: create a new JSON key for the service account in the Google Cloud console"
        )


def describe(path: str, secrets_dir: str) -> Connection:
    if not path:
        return Connection(kind="", path="")
    managed = _inside(path, secrets_dir)
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except OSError as error:
        return Connection("broken", path, problem=f"cannot read {path}: {error.strerror}", managed=managed)
    except ValueError:
        return Connection("broken", path, problem=f"{path} is not JSON", managed=managed)
    kind = info.get("type") if isinstance(info, dict) else None
    if kind == "service_account":
        return Connection(
            kind, path, str(info.get("client_id", "")), str(info.get("client_email", "")), managed=managed
        )
    if kind == "authorized_user":
        return Connection(kind, path, str(info.get("client_id", "")), managed=managed)
    return Connection(
        "broken", path, problem=f"{path} is neither a service-account key nor an authorized_user file", managed=managed
    )


def _inside(path: str, directory: str) -> bool:
    try:
        return Path(path).resolve().parent == Path(directory).resolve()
    except OSError:
        return False


def read_oauth_client(path: str) -> dict:
    """An OAuth web client file ``{"web": {...}}`` from the Google Cloud console."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise ConfigError(f"GOOGLE_SYNC_OAUTH_CLIENT = {path}: cannot read it ({error.strerror})") from None
    except ValueError:
        raise ConfigError(f"GOOGLE_SYNC_OAUTH_CLIENT = {path}: not JSON") from None
    web = data.get("web") if isinstance(data, dict) else None
    if not isinstance(web, dict):
        raise ConfigError(
            f'GOOGLE_SYNC_OAUTH_CLIENT = {path}: not an OAuth client of type "Web application" (no "web" section)'
        )
    missing = [name for name in OAUTH_CLIENT_FIELDS if not web.get(name)]
    if missing:
        raise ConfigError(f"GOOGLE_SYNC_OAUTH_CLIENT = {path}: the client lacks {', '.join(missing)}")
    return {"web": web}


def is_loopback_url(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allow_plain_http_for(token_uri: str) -> None:
    """oauthlib refuses http:// endpoints; allow them only for a loopback emulator, never for a real server."""
    if token_uri.startswith("http://") and is_loopback_url(token_uri):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def authorized_user_info(client: dict, refresh_token: str) -> dict:
    web = client["web"]
    return {
        "type": "authorized_user",
        "client_id": web["client_id"],
        "client_secret": web["client_secret"],
        "refresh_token": refresh_token,
        "token_uri": web["token_uri"],
    }


def revoke_uri(client: dict | None, token_uri: str) -> str:
    web = (client or {}).get("web", {})
    if web.get("revoke_uri"):
        return web["revoke_uri"]
    if urllib.parse.urlsplit(token_uri).hostname == "oauth2.googleapis.com":
        return GOOGLE_REVOKE_URI
    return token_uri.rsplit("/", 1)[0] + "/revoke"


def revoke_refresh_token(path: str, client: dict | None) -> str:
    """Ask the token server to forget the grant; '' when done, else why not (disconnecting goes on)."""
    import requests  # noqa: PLC0415  (only disconnecting an OAuth grant needs it)

    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
        token = info["refresh_token"]
        uri = revoke_uri(client, info.get("token_uri", ""))
    except (OSError, ValueError, KeyError):
        return "the stored grant could not be read, so it was not revoked"
    if uri.startswith("http://") and not is_loopback_url(uri):
        return f"not revoked: {uri} is not HTTPS"
    try:
        response = requests.post(uri, data={"token": token}, timeout=15)
    except requests.RequestException as error:
        return f"Google could not be reached to revoke the grant ({type(error).__name__})"
    if response.status_code >= 400:
        return (
            f"Google answered {response.status_code} to the revocation; remove the app's access in your Google account"
        )
    return ""


def remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
