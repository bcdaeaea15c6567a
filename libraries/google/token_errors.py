"""What Google's refusal of a token means, and which setting fixes it.

Google answers a refused token request with an OAuth error and a description; the same ``invalid_grant``
covers a key Google does not know, a wrong signature, an ``admin_email`` that is no user, and a wrong clock.
Each is told apart by its description (as Google words it) and named with the key to fix: the service account
and its key are ``[google] credentials_file``, the user acted as is ``[google] admin_email``, the scopes are
the domain-wide delegation in Google Admin.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..settings.config import GoogleSettings

DELEGATION_PAGE = "Google Admin > Security > Access and data control > API controls > Domain-wide delegation"

# (words in Google's answer, what it means): the first that matches decides.
_UNKNOWN_ACCOUNT = (
    "account not found",
    "robot is disabled",
    "account has been deleted",
    "oauth client was not found",
    "deleted_client",
)
_BAD_SIGNATURE = ("invalid jwt signature",)
_NOT_A_USER = ("invalid email or user id", "invalid impersonation")
_CLOCK = ("short-lived token", "reasonable timeframe")
_REVOKED = ("token has been expired or revoked",)


def token_error_message(
    error: Exception, settings: GoogleSettings, client_id: str = "", scopes: Iterable[str] = ()
) -> str:
    """One line: what Google refused, why, and the setting (or the Admin console page) that fixes it."""
    text = str(error)
    said = f"(Google said: {_description(text)})"
    lowered = text.lower()
    key = _key_facts(settings.credentials_file)
    where = f"[google] credentials_file = {settings.credentials_file}"
    if "unauthorized_client" in lowered:
        return (
            f"Google refused a token: the service account (client ID {client_id or key.get('client_id') or '?'}) is not "
            f"allowed these scopes. In {DELEGATION_PAGE}, add the client ID with the scopes: {','.join(scopes)} {said}"
        )
    if any(words in lowered for words in _UNKNOWN_ACCOUNT):
        return (
            f"Google refused a token: it does not know the service account {key.get('client_email', '?')} of {where} (deleted or disabled, "
            f"or of another project): create a key of an active service account and give it in credentials_file {said}"
        )
    if any(words in lowered for words in _BAD_SIGNATURE):
        return (
            f"Google refused a token: it does not accept the key {key.get('private_key_id', '?')[:12]}… in {where} (deleted or replaced in the "
            f"Cloud console, or not this service account's): download a new JSON key and give it in credentials_file {said}"
        )
    if any(words in lowered for words in _NOT_A_USER):
        return (
            f"Google refused a token: [google] admin_email = {settings.admin_email} is not an active user of the domain: name an active super "
            f"administrator {said}"
        )
    if any(words in lowered for words in _CLOCK):
        return f"Google refused a token: this server's clock is wrong: set it right (NTP) and try again {said}"
    if any(words in lowered for words in _REVOKED):
        return f"Google refused a token: the grant in {where} was revoked or has expired: connect to Google again in the console {said}"
    if "invalid_grant" in lowered:
        return (
            f"Google refused a token for {settings.admin_email}: check [google] admin_email names an active super "
            f"administrator and credentials_file an active key {said}"
        )
    return f"cannot get a token from {settings.token_uri or 'Google'}: {text}"


def _description(text: str) -> str:
    """Google's own words, without the JSON body google-auth repeats after them."""
    if text.startswith("('") and "', " in text:
        return text[2 : text.index("', ")]
    return text


def _key_facts(path: str) -> dict:
    """The key file's names (never its private key), for the message; empty when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except (OSError, ValueError, TypeError):
        return {}
    if not isinstance(info, dict):
        return {}
    return {name: str(info[name]) for name in ("client_email", "client_id", "private_key_id") if info.get(name)}
