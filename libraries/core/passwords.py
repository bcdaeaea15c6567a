"""Turn the password attributes of an LDAP entry into something Google can check.

Google never needs the cleartext: it accepts a hex MD5 or SHA-1 digest
(unsalted) or a crypt(3) string (DES, ``$1$``, ``$5$``, ``$6$`` with at most
10000 rounds). Everything else the directory may hold has to be refused with a
sentence that tells the administrator what to change.

The crypt algorithms come from libpass (the maintained fork of passlib, imported
as ``passlib``), whose pure-Python backends work without the ``crypt`` module
that is gone from Python 3.13. This module only decides salts, rounds and which
formats Google takes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import re
import secrets
import string

from passlib.hash import md5_crypt as _md5_crypt_handler
from passlib.hash import sha256_crypt as _sha256_crypt_handler
from passlib.hash import sha512_crypt as _sha512_crypt_handler
from passlib.ifc import PasswordHash as _HashScheme

from .model import PasswordHash

CRYPT = "crypt"  # Google's hashFunction for DES, $1$, $5$ and $6$ crypt strings
GOOGLE_MAX_CRYPT_ROUNDS = 10000
GOOGLE_MIN_PASSWORD, GOOGLE_MAX_PASSWORD = 8, 100  # characters of a cleartext password
NO_PASSWORD = "no password in the directory"

CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

_SHA_DEFAULT_ROUNDS = 5000
_SHA_MIN_ROUNDS = 1000
_SHA_MAX_ROUNDS = 999_999_999
_SHA_MAX_SALT = 16
_MD5_MAX_SALT = 8
# A stored hash may name any round count; verifying one costs that many
# digests, so an absurd value must not wedge the caller.
VERIFY_MAX_ROUNDS = 1_000_000

_SHA_CRYPT_RE = re.compile(
    r"\$(?P<id>[56])\$(?:rounds=(?P<rounds>[0-9]{1,9})\$)?(?P<salt>[^$]{0,16})\$(?P<checksum>[./0-9A-Za-z]+)\Z"
)
_MD5_CRYPT_RE = re.compile(r"\$1\$(?P<salt>[^$]{0,8})\$[./0-9A-Za-z]{22}\Z")
_DES_CRYPT_RE = re.compile(r"[./0-9A-Za-z]{13}\Z")
_SCHEME_RE = re.compile(rb"\{([A-Za-z0-9._-]+)\}")
_HEX_SHA1_RE = re.compile(r"[0-9a-fA-F]{40}\Z")
_SHA_CHECKSUM_LENGTHS = {"5": 43, "6": 86}

_FIX = (
    "set slapd's password-hash to {CRYPT} with password-crypt-salt-format "
    '"$6$%.16s" (see deploy/) or let the console capture the password when it '
    "is next changed"
)
_RESET = "set the password again so the directory stores it afresh"

# What an administrator should be told each unsupported scheme is.
_SCHEME_NAMES = {
    "SSHA": "salted SHA-1",
    "SMD5": "salted MD5",
    "SHA256": "unsalted SHA-256",
    "SHA384": "unsalted SHA-384",
    "SHA512": "unsalted SHA-512",
    "SSHA256": "salted SHA-256",
    "SSHA384": "salted SHA-384",
    "SSHA512": "salted SHA-512",
    "ARGON2": "Argon2",
    "SASL": "a pointer to the SASL database, not a hash",
    "K5KEY": "a pointer to Kerberos, not a hash",
}
_CRYPT_NAMES = {
    "$2a$": "bcrypt",
    "$2b$": "bcrypt",
    "$2x$": "bcrypt",
    "$2y$": "bcrypt",
    "$y$": "yescrypt",
    "$gy$": "gost-yescrypt",
    "$7$": "scrypt",
    "$sha1$": "NetBSD SHA-1 crypt",
    "$md5": "Sun MD5 crypt",
    "_": "BSDi extended DES",
}


def _new_salt(salt: str | None, length: int) -> str:
    if salt is None:
        return "".join(secrets.choice(CRYPT_ALPHABET) for _ in range(length))
    if any(char not in CRYPT_ALPHABET for char in salt):
        raise ValueError("a crypt salt may only use the characters ./0-9A-Za-z")
    return salt


def _clamped_rounds(rounds: int) -> int:
    return min(max(rounds, _SHA_MIN_ROUNDS), _SHA_MAX_ROUNDS)


def sha512_crypt(password: str, salt: str | None = None, rounds: int = _SHA_DEFAULT_ROUNDS) -> str:
    """``$6$`` SHA-512 crypt; rounds are clamped to 1000..999999999 and the salt cut to 16 characters, as the spec says.

    The ``rounds=`` field is written only when it is not the default 5000.
    Google accepts at most 10000 rounds, so callers pushing to Google keep below it.
    """
    salt = _new_salt(salt, _SHA_MAX_SALT)[:_SHA_MAX_SALT]
    return _sha512_crypt_handler.using(salt=salt, rounds=_clamped_rounds(rounds)).hash(password)


def sha256_crypt(password: str, salt: str | None = None, rounds: int = _SHA_DEFAULT_ROUNDS) -> str:
    """``$5$`` SHA-256 crypt, same rules as :func:`sha512_crypt`."""
    salt = _new_salt(salt, _SHA_MAX_SALT)[:_SHA_MAX_SALT]
    return _sha256_crypt_handler.using(salt=salt, rounds=_clamped_rounds(rounds)).hash(password)


def md5_crypt(password: str, salt: str | None = None) -> str:
    """``$1$`` MD5 crypt (salt up to 8 characters, fixed 1000 rounds)."""
    salt = _new_salt(salt, _MD5_MAX_SALT)[:_MD5_MAX_SALT]
    return _md5_crypt_handler.using(salt=salt).hash(password)


def _match_sha_crypt(value: str) -> re.Match[str] | None:
    match = _SHA_CRYPT_RE.match(value)
    if match and len(match["checksum"]) == _SHA_CHECKSUM_LENGTHS[match["id"]]:
        return match
    return None


def verify_crypt(password: str, hashed: str, *, max_rounds: int = VERIFY_MAX_ROUNDS) -> bool:
    """True when ``password`` produces ``hashed`` (``$1$``, ``$5$`` or ``$6$``).

    DES and every other crypt format are not implemented and give False, as
    does a SHA-crypt hash asking for more than ``max_rounds`` rounds (verifying
    costs that many digests, so an absurd stored value must not wedge the caller).
    """
    handler: type[_HashScheme]
    sha = _match_sha_crypt(hashed)
    if sha:
        if int(sha["rounds"] or _SHA_DEFAULT_ROUNDS) > max_rounds:
            return False
        handler = _sha512_crypt_handler if sha["id"] == "6" else _sha256_crypt_handler
    elif _MD5_CRYPT_RE.match(hashed):
        handler = _md5_crypt_handler
    else:
        return False
    try:
        return bool(handler.verify(password, hashed))  # compares in constant time
    except ValueError:  # e.g. a salt character or round count libpass will not parse
        return False


def fingerprint(secret_key: bytes, password_hash: PasswordHash) -> str:
    """Keyed HMAC-SHA256 of a pushed hash, so the store can see a change without keeping the hash."""
    message = f"{password_hash.hash_function}\0{password_hash.value}".encode()
    return hmac.new(secret_key, message, hashlib.sha256).hexdigest()


def random_password(length: int = 32) -> str:
    """A throwaway password for an account whose own password cannot be synced."""
    if not GOOGLE_MIN_PASSWORD <= length <= GOOGLE_MAX_PASSWORD:
        raise ValueError(f"Google accepts passwords of {GOOGLE_MIN_PASSWORD} to {GOOGLE_MAX_PASSWORD} characters")
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def length_problem(password: str) -> str:
    """'' when Google accepts the length of ``password``; else what is wrong, never the password or its length."""
    if len(password) < GOOGLE_MIN_PASSWORD:
        return f"shorter than the {GOOGLE_MIN_PASSWORD} characters Google requires"
    if len(password) > GOOGLE_MAX_PASSWORD:
        return f"longer than the {GOOGLE_MAX_PASSWORD} characters Google allows"
    return ""


def _unsupported(label: str, description: str) -> str:
    return f"password stored as {label} ({description}), which Google cannot accept; {_FIX}"


def _from_digest(scheme: str, encoded: str, size: int, function: str) -> tuple[PasswordHash | None, str]:
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != size:
        return None, f"password stored as {{{scheme}}} is not a valid {function} digest; {_RESET}"
    return PasswordHash(digest.hex(), function), ""


def _from_crypt(value: str) -> tuple[PasswordHash | None, str]:
    sha = _match_sha_crypt(value)
    if sha:
        rounds = int(sha["rounds"] or _SHA_DEFAULT_ROUNDS)
        if rounds > GOOGLE_MAX_CRYPT_ROUNDS:
            return None, (
                f"password stored as {{CRYPT}}${sha['id']}$ with rounds={rounds}, more than the "
                f"{GOOGLE_MAX_CRYPT_ROUNDS} Google accepts; {_FIX}"
            )
        return PasswordHash(value, CRYPT), ""
    if _MD5_CRYPT_RE.match(value) or _DES_CRYPT_RE.match(value):
        return PasswordHash(value, CRYPT), ""
    for prefix, name in _CRYPT_NAMES.items():
        if value.startswith(prefix):
            return None, _unsupported(f"{{CRYPT}}{prefix}", name)
    return None, _unsupported("{CRYPT}", "a crypt format Google does not know")


def _from_cleartext(raw: bytes, salt_key: bytes | None) -> tuple[PasswordHash | None, str]:
    if not raw:
        return None, "userPassword is empty; set a password for the account"
    try:
        password = raw.decode()
    except UnicodeDecodeError:
        return None, f"userPassword holds cleartext that is not UTF-8; {_RESET}"
    # Google checks the length of a cleartext password only; sent as a hash, one it would refuse goes through.
    problem = length_problem(password)
    if problem:
        return (
            None,
            f"userPassword holds a cleartext password {problem}; set a password of {GOOGLE_MIN_PASSWORD} to {GOOGLE_MAX_PASSWORD} characters",
        )
    salt = None
    if salt_key is not None:
        # Same cleartext, same salt: the hash (and its fingerprint) stays put
        # between runs instead of being pushed again every time.
        digest = hmac.new(salt_key, raw, hashlib.sha256).digest()
        salt = "".join(CRYPT_ALPHABET[byte % 64] for byte in digest[:_SHA_MAX_SALT])
    return PasswordHash(sha512_crypt(password, salt), CRYPT), ""


def _from_user_password(raw: bytes, salt_key: bytes | None) -> tuple[PasswordHash | None, str]:
    # slapd reads a leading {WORD} as the scheme too, so a cleartext that
    # happens to start that way could not be used for binds either.
    scheme_match = _SCHEME_RE.match(raw)
    if not scheme_match:
        return _from_cleartext(raw, salt_key)
    scheme = scheme_match[1].decode().upper()
    try:
        rest = raw[scheme_match.end() :].decode("ascii")
    except UnicodeDecodeError:
        return None, f"password stored as {{{scheme}}} is not plain ASCII; {_RESET}"
    if scheme == "SHA":
        return _from_digest(scheme, rest, 20, "SHA-1")
    if scheme == "MD5":
        return _from_digest(scheme, rest, 16, "MD5")
    if scheme == "CRYPT":
        return _from_crypt(rest)
    if scheme.startswith("PBKDF2"):
        return None, _unsupported(f"{{{scheme}}}", "PBKDF2")
    return None, _unsupported(f"{{{scheme}}}", _SCHEME_NAMES.get(scheme, "a scheme Google does not know"))


def _from_clear_sha1(raw: bytes) -> tuple[PasswordHash | None, str]:
    value = raw.decode("ascii", "replace").strip()
    if _HEX_SHA1_RE.match(value):
        return PasswordHash(value.lower(), "SHA-1"), ""
    return None, f"clearSHA1Password is not a 40-digit hex SHA-1 digest; {_RESET}"


def from_directory(
    values: dict[str, list[bytes]], *, cleartext_salt_key: bytes | None = None
) -> tuple[PasswordHash | None, str]:
    """The hash to push for one entry, or ``(None, why not)``; the second item is "" on success.

    ``values`` maps attribute names (any case) to raw values, in the order
    configured. A usable userPassword (or another attribute stored like it, such as
    ClearOS's clearSHAPassword) wins over clearSHA1Password; when neither is usable the
    userPassword's problem is returned, since it names the fix. A cleartext
    userPassword is hashed here with SHA-512 crypt: with ``cleartext_salt_key``
    (a secret, ideally per entry) its salt is derived so the result is the
    same on every run; without it the salt is random and the hash differs
    each call.
    """
    by_name: dict[str, list[bytes]] = {}
    for name, raw_values in values.items():
        by_name.setdefault(name.lower(), []).extend(raw_values)
    # Another attribute counts where its values are stored as {SCHEME}value, like ClearOS's clearSHAPassword; only
    # userPassword may hold cleartext (an NT hash in sambaNTPassword must never be taken for a password).
    user_passwords = [
        raw
        for name, raw_values in by_name.items()
        if name != "clearsha1password"
        for raw in raw_values
        if name == "userpassword" or _SCHEME_RE.match(raw)
    ]
    clear_sha1 = by_name.get("clearsha1password", [])
    if not user_passwords and not clear_sha1:
        return None, NO_PASSWORD
    # Lazy, so a usable first value spares hashing any cleartext after it.
    candidates = itertools.chain(
        (_from_user_password(raw, cleartext_salt_key) for raw in user_passwords),
        (_from_clear_sha1(raw) for raw in clear_sha1),
    )
    problems = []
    for password_hash, problem in candidates:
        if password_hash is not None:
            return password_hash, ""
        problems.append(problem)
    return None, problems[0]
