"""How the emulator keeps passwords: cleartext salted and hashed, pre-hashed values as received."""

import hashlib
import hmac
import os

_ITERATIONS = 10000


def to_stored(password, hash_function):
    """The record kept for a (validated) password; never returned by the API."""
    if hash_function is None:
        salt = os.urandom(16)
        return {"hashFunction": None, "salt": salt.hex(), "value": _pbkdf2(password, salt)}
    return {"hashFunction": hash_function, "value": password}


def matches(stored, candidate):
    """True when `candidate` (cleartext) is the password behind `stored`."""
    function, value = stored["hashFunction"], stored["value"]
    if function is None:
        return hmac.compare_digest(_pbkdf2(candidate, bytes.fromhex(stored["salt"])), value)
    if function == "MD5":
        return hmac.compare_digest(hashlib.md5(candidate.encode()).hexdigest(), value)
    if function == "SHA-1":
        return hmac.compare_digest(hashlib.sha1(candidate.encode()).hexdigest(), value)
    from app_google_sync.libraries.core.passwords import verify_crypt  # noqa: PLC0415  (written alongside; load late)

    return bool(verify_crypt(candidate, value))


def _pbkdf2(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS).hex()
