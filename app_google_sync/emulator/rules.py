"""Google's input rules for addresses, names and passwords (pure functions, no state)."""

import json
import re

from .errors import bad_value, invalid

NAME_MAX = 60
PASSWORD_MIN, PASSWORD_MAX = 8, 100
CRYPT_ROUNDS_MAX = 10000

_LOCAL_PART = re.compile(r"^[A-Za-z0-9_'\-]+(\.[A-Za-z0-9_'\-]+)*$")
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9\-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9\-]*[a-z0-9])?)+$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_CRYPT_CHARS = r"[./0-9A-Za-z]"
_CRYPT_DES = re.compile(r"^%s{13}$" % _CRYPT_CHARS)
_CRYPT_MD5 = re.compile(r"^\$1\$[^$]{1,8}\$%s{22}$" % _CRYPT_CHARS)
_CRYPT_SHA = re.compile(r"^\$([56])\$(?:rounds=(\d+)\$)?[^$]{1,16}\$(%s+)$" % _CRYPT_CHARS)
_SHA_DIGEST_LENGTH = {"5": 43, "6": 86}

HASH_FUNCTIONS = ("MD5", "SHA-1", "crypt")


def split_address(address):
    """Return (local, domain) of a syntactically valid address, else None."""
    if not isinstance(address, str) or address.count("@") != 1:
        return None
    local, domain = address.lower().split("@")
    if len(local) > 64 or not _LOCAL_PART.match(local) or not _DOMAIN.match(domain):
        return None
    return local, domain


def check_address(address, domains, field):
    """A lower-cased address in one of our domains, or 400 naming `field`."""
    parts = split_address(address)
    if parts is None:
        raise invalid("Invalid Input: %s" % field)
    if parts[1] not in domains:
        raise invalid("Domain not found.")
    return "%s@%s" % parts


def check_name_part(value, label):
    """givenName / familyName: a non-blank string of at most 60 characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > NAME_MAX:
        raise invalid("Invalid Given/Family Name: %s" % label)
    return value


def check_password(password, hash_function):
    """Validate a password as Google does; return the value to store."""
    if not isinstance(password, str):
        raise invalid("Invalid Password")
    if hash_function is None:
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            raise invalid("Invalid Password")
        return password
    if hash_function not in HASH_FUNCTIONS:
        raise invalid("Invalid Input: hash_function")
    if hash_function == "crypt":
        if not is_supported_crypt(password):
            raise invalid("Invalid Password")
        return password
    length = 32 if hash_function == "MD5" else 40
    if len(password) != length or not _HEX.match(password):
        raise invalid("Invalid Password")
    return password.lower()


def is_supported_crypt(value):
    """DES, MD5-crypt, or SHA-256/512-crypt with at most 10000 rounds."""
    if _CRYPT_DES.match(value) or _CRYPT_MD5.match(value):
        return True
    match = _CRYPT_SHA.match(value)
    if not match:
        return False
    variant, rounds, digest = match.groups()
    if rounds is not None and int(rounds) > CRYPT_ROUNDS_MAX:
        return False
    return len(digest) == _SHA_DIGEST_LENGTH[variant]


def check_bool(body, field, prefix="resource"):
    value = body[field]
    if not isinstance(value, bool):
        raise bad_value("%s.%s" % (prefix, field), "TYPE_BOOL", _json_repr(value))
    return value


def check_string(body, field, prefix="resource"):
    value = body[field]
    if not isinstance(value, str):
        raise bad_value("%s.%s" % (prefix, field), "TYPE_STRING", _json_repr(value))
    return value


def check_known_fields(body, allowed):
    """Google's front end refuses JSON names that are not in the resource schema."""
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    for name in body:
        if name not in allowed:
            raise invalid("Invalid JSON payload received. Unknown name \"%s\" at 'resource': Cannot find field." % name)


def _json_repr(value):
    return json.dumps(value, ensure_ascii=False)
