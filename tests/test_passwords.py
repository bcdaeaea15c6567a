import base64
import hashlib
import random
import shutil
import subprocess
import warnings

import pytest

from app_google_sync.libraries.core.model import PasswordHash
from app_google_sync.libraries.core.passwords import (
    CRYPT_ALPHABET,
    NO_PASSWORD,
    fingerprint,
    from_directory,
    md5_crypt,
    random_password,
    sha256_crypt,
    sha512_crypt,
    verify_crypt,
)

try:  # only to cross-check; the module is gone in Python 3.13
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as system_crypt
except ImportError:
    system_crypt = None

LONG_TEXT = "a very much longer text to encrypt.  This one even stretches over morethan one line."

# The test vectors published with Drepper's SHA-crypt specification.
SHA_VECTORS = [
    (sha256_crypt, "Hello world!", "saltstring", 5000, "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
    (
        sha256_crypt,
        "Hello world!",
        "saltstringsaltstring",
        10000,
        "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
    ),
    (
        sha256_crypt,
        "This is just a test",
        "toolongsaltstring",
        5000,
        "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5",
    ),
    (
        sha256_crypt,
        LONG_TEXT,
        "anotherlongsaltstring",
        1400,
        "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1",
    ),
    (
        sha256_crypt,
        "we have a short salt string but not a short password",
        "short",
        77777,
        "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/",
    ),
    (
        sha256_crypt,
        "the minimum number is still observed",
        "roundstoolow",
        10,
        "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC",
    ),
    (
        sha512_crypt,
        "Hello world!",
        "saltstring",
        5000,
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
    ),
    (
        sha512_crypt,
        "Hello world!",
        "saltstringsaltstring",
        10000,
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/"
        "YTBmSK6H9qs/y3RnOaw5v.",
    ),
    (
        sha512_crypt,
        "This is just a test",
        "toolongsaltstring",
        5000,
        "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/"
        "e1JSbq3y6JMxxl8audkUEm0",
    ),
    (
        sha512_crypt,
        LONG_TEXT,
        "anotherlongsaltstring",
        1400,
        "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJE"
        "iDwGqd8p4ur1",
    ),
    (
        sha512_crypt,
        "we have a short salt string but not a short password",
        "short",
        77777,
        "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
    ),
    (
        sha512_crypt,
        "the minimum number is still observed",
        "roundstoolow",
        10,
        "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYB"
        "aHHrsX.",
    ),
]

# Computed with `openssl passwd -1 -salt …` and glibc crypt(3).
MD5_VECTORS = [
    ("Hello world!", "saltstri", "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1"),
    ("", "abc", "$1$abc$Or2rbeUYTvt12aiVzMuS/."),
]

SSHA_VALUE = b"{SSHA}" + base64.b64encode(hashlib.sha1(b"secretsalt").digest() + b"salt")


@pytest.mark.parametrize("function, password, salt, rounds, expected", SHA_VECTORS)
def test_sha_crypt_matches_the_specification_vectors(function, password, salt, rounds, expected):
    # The spec spells rounds=5000 out when it was asked for; our API omits the default.
    assert function(password, salt, rounds) == expected.replace("rounds=5000$", "")
    assert verify_crypt(password, expected)


@pytest.mark.parametrize("password, salt, expected", MD5_VECTORS)
def test_md5_crypt_vectors(password, salt, expected):
    assert md5_crypt(password, salt) == expected
    assert verify_crypt(password, expected)


def _samples():
    """Passwords around the 16/32/64-byte block edges, some not ASCII."""
    rng = random.Random(1234)
    lengths = [0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100]
    return [
        (
            "".join(rng.choice(CRYPT_ALPHABET + "é€ !") for _ in range(n)),
            "".join(rng.choice(CRYPT_ALPHABET) for _ in range(rng.randint(0, 16))),
        )
        for n in lengths
    ]


@pytest.mark.skipif(system_crypt is None, reason="crypt module not available")
@pytest.mark.parametrize("password, salt", _samples())
def test_cross_check_with_system_crypt(password, salt):
    assert sha512_crypt(password, salt) == system_crypt.crypt(password, f"$6${salt}")
    assert sha256_crypt(password, salt, 1000) == system_crypt.crypt(password, f"$5$rounds=1000${salt}")
    assert md5_crypt(password, salt[:8]) == system_crypt.crypt(password, f"$1${salt[:8]}")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_cross_check_with_openssl():
    password, salt = "Tr0ub4dor&3 ünïcode", "aB3./xyZ"
    for flag, ours in (("-1", md5_crypt(password, salt)), ("-6", sha512_crypt(password, salt))):
        theirs = subprocess.run(
            ["openssl", "passwd", flag, "-salt", salt, "-stdin"],
            input=password,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert ours == theirs


@pytest.mark.parametrize("function", [sha512_crypt, sha256_crypt, md5_crypt])
def test_verify_round_trip_and_rejections(function):
    hashed = function("correct horse")
    assert verify_crypt("correct horse", hashed)
    assert not verify_crypt("correct horsE", hashed)
    assert not verify_crypt("", hashed)
    tampered = hashed[:-1] + ("." if hashed[-1] != "." else "/")
    assert not verify_crypt("correct horse", tampered)


def test_default_salt_is_random_and_from_the_crypt_alphabet():
    first, second = sha512_crypt("pw"), sha512_crypt("pw")
    assert first != second
    salt = first.split("$")[2]
    assert len(salt) == 16 and set(salt) <= set(CRYPT_ALPHABET)
    assert len(md5_crypt("pw").split("$")[2]) == 8


def test_rounds_header_only_when_not_default():
    assert sha512_crypt("pw", "salt").startswith("$6$salt$")
    assert sha512_crypt("pw", "salt", 6000).startswith("$6$rounds=6000$salt$")


def test_salt_outside_the_alphabet_is_refused():
    with pytest.raises(ValueError):
        sha512_crypt("pw", "bad$salt")


def test_verify_refuses_what_it_does_not_implement():
    des = "abMbH7WsHr7wQ"  # crypt("Hello world!", "ab")
    assert not verify_crypt("Hello world!", des)
    assert not verify_crypt("pw", "$2y$10$abcdefghijklmnopqrstuu5Hn8Y3XrGMZzQ0a0bD6ZxQZ1n8xOe")
    assert not verify_crypt("pw", "")
    assert not verify_crypt("pw", "$6$salt$tooshort")


def test_verify_refuses_rounds_above_its_limit():
    hashed = sha256_crypt("pw", "salt", 2000)
    assert verify_crypt("pw", hashed)
    assert not verify_crypt("pw", hashed, max_rounds=1999)


# --- from_directory -------------------------------------------------------


def test_sha_becomes_hex_sha1():
    stored = b"{SHA}" + base64.b64encode(hashlib.sha1(b"s3cret").digest())
    result, problem = from_directory({"userPassword": [stored]})
    assert result == PasswordHash(hashlib.sha1(b"s3cret").hexdigest(), "SHA-1")
    assert problem == ""


def test_attribute_names_and_scheme_are_case_insensitive():
    stored = b"{sha}" + base64.b64encode(hashlib.sha1(b"s3cret").digest())
    result, _ = from_directory({"USERPASSWORD": [stored]})
    assert result == PasswordHash(hashlib.sha1(b"s3cret").hexdigest(), "SHA-1")


def test_clearos_clear_sha_password_is_read_like_user_password():
    """ClearOS keeps a copy of {sha}base64 in clearSHAPassword; configured alone, it is read the same way."""
    stored = b"{sha}" + base64.b64encode(hashlib.sha1(b"s3cret").digest())
    result, problem = from_directory({"clearSHAPassword": [stored]})
    assert result == PasswordHash(hashlib.sha1(b"s3cret").hexdigest(), "SHA-1") and problem == ""
    salted, _ = from_directory({"userPassword": [b"{SSHA}c2FsdGVkc2FsdGVkc2FsdGVk"], "clearSHAPassword": [stored]})
    assert salted == result  # an unusable userPassword gives way to the next attribute configured


def test_md5_becomes_hex_md5():
    stored = b"{MD5}" + base64.b64encode(hashlib.md5(b"s3cret").digest())
    result, _ = from_directory({"userPassword": [stored]})
    assert result == PasswordHash(hashlib.md5(b"s3cret").hexdigest(), "MD5")


@pytest.mark.parametrize(
    "hashed",
    [
        sha512_crypt("pw", "saltsalt"),
        sha512_crypt("pw", "saltsalt", 10000),
        sha256_crypt("pw", "saltsalt"),
        md5_crypt("pw", "saltsalt"),
        "abMbH7WsHr7wQ",
    ],
)
def test_crypt_google_knows_is_passed_through(hashed):
    result, problem = from_directory({"userPassword": [b"{CRYPT}" + hashed.encode()]})
    assert result == PasswordHash(hashed, "crypt")
    assert problem == ""


def test_crypt_with_too_many_rounds_is_refused():
    hashed = "{CRYPT}" + sha256_crypt("pw", "saltsalt", 10001)
    result, problem = from_directory({"userPassword": [hashed.encode()]})
    assert result is None
    assert "rounds=10001" in problem and "10000" in problem


def test_clear_sha1_password_is_used_as_sha1():
    digest = hashlib.sha1(b"s3cret").hexdigest()
    result, _ = from_directory({"clearsha1password": [digest.upper().encode()]})
    assert result == PasswordHash(digest, "SHA-1")


def test_ssha_problem_names_scheme_and_fix():
    result, problem = from_directory({"userPassword": [SSHA_VALUE]})
    assert result is None
    assert "{SSHA}" in problem and "salted SHA-1" in problem
    assert 'password-crypt-salt-format "$6$%.16s"' in problem and "console" in problem


@pytest.mark.parametrize(
    "stored, named",
    [
        (b"{SMD5}AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "salted MD5"),
        (b"{PBKDF2-SHA512}10000$c2FsdA$aGFzaA", "PBKDF2"),
        (b"{ARGON2}$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", "Argon2"),
        (b"{CRYPT}$2y$10$abcdefghijklmnopqrstuu5Hn8Y3XrGMZzQ0a0bD6ZxQZ1n8xOe", "bcrypt"),
        (b"{CRYPT}$y$j9T$salt$hash", "yescrypt"),
        (b"{CRYPT}!locked", "{CRYPT}"),
        (b"{NTLM}whatever", "{NTLM}"),
    ],
)
def test_unsyncable_schemes_explain_themselves(stored, named):
    result, problem = from_directory({"userPassword": [stored]})
    assert result is None
    assert named in problem and "Google cannot accept" in problem


def test_malformed_sha_is_a_problem():
    result, problem = from_directory({"userPassword": [b"{SHA}not base64!"]})
    assert result is None and "{SHA}" in problem


def test_cleartext_is_hashed_with_sha512_crypt():
    result, problem = from_directory({"userPassword": [b"plain s3cret"]})
    assert problem == ""
    assert result.hash_function == "crypt" and result.value.startswith("$6$")
    assert "plain s3cret" not in result.value
    assert verify_crypt("plain s3cret", result.value)


def test_cleartext_salt_key_makes_the_hash_stable():
    values = {"userPassword": [b"plain s3cret"]}
    first, _ = from_directory(values, cleartext_salt_key=b"key")
    again, _ = from_directory(values, cleartext_salt_key=b"key")
    other, _ = from_directory(values, cleartext_salt_key=b"other key")
    assert first == again and first != other
    assert verify_crypt("plain s3cret", other.value)


def test_usable_user_password_beats_clear_sha1():
    stored = b"{CRYPT}" + md5_crypt("pw", "salt").encode()
    result, _ = from_directory({"userPassword": [stored], "clearSHA1Password": [b"a" * 40]})
    assert result.hash_function == "crypt"


def test_clear_sha1_used_when_user_password_unusable():
    result, problem = from_directory({"userPassword": [SSHA_VALUE], "clearSHA1Password": [b"b" * 40]})
    assert result == PasswordHash("b" * 40, "SHA-1") and problem == ""


def test_user_password_problem_wins_when_nothing_is_usable():
    _, problem = from_directory({"clearSHA1Password": [b"nothex"], "userPassword": [SSHA_VALUE]})
    assert "{SSHA}" in problem


@pytest.mark.parametrize("values", [{}, {"userPassword": []}, {"sambaNTPassword": [b"0" * 32]}])
def test_no_password(values):
    assert from_directory(values) == (None, NO_PASSWORD)


# --- fingerprint, repr, random passwords -----------------------------------


def test_fingerprint_is_stable_and_keyed():
    sha = PasswordHash("a" * 40, "SHA-1")
    assert fingerprint(b"k", sha) == fingerprint(b"k", sha)
    assert fingerprint(b"k", sha) != fingerprint(b"other", sha)
    assert fingerprint(b"k", sha) != fingerprint(b"k", PasswordHash("a" * 40, "crypt"))
    assert fingerprint(b"k", sha) != fingerprint(b"k", PasswordHash("b" * 40, "SHA-1"))
    assert len(fingerprint(b"k", sha)) == 64 and "a" * 40 not in fingerprint(b"k", sha)


def test_password_hash_repr_hides_the_value():
    secret = hashlib.sha1(b"s3cret").hexdigest()
    assert secret not in repr(PasswordHash(secret, "SHA-1"))


def test_random_password():
    first = random_password()
    assert len(first) == 32 and first.isalnum() and first != random_password()
    assert len(random_password(8)) == 8 and len(random_password(100)) == 100
    for bad in (7, 101):
        with pytest.raises(ValueError):
            random_password(bad)


# --- the algorithms come from libpass ------------------------------------------


def test_hashes_are_libpass_hashes_both_ways():
    from passlib.hash import md5_crypt as lib_md5
    from passlib.hash import sha256_crypt as lib_sha256
    from passlib.hash import sha512_crypt as lib_sha512

    for ours, theirs in (
        (sha512_crypt("pw", "salt", 7000), lib_sha512),
        (sha256_crypt("pw"), lib_sha256),
        (md5_crypt("pw"), lib_md5),
    ):
        assert theirs.identify(ours) and theirs.verify("pw", ours)
    assert verify_crypt("pw", lib_sha512.using(rounds=9000).hash("pw"))
    assert verify_crypt("pw", lib_md5.hash("pw"))


def test_salt_is_cut_and_rounds_are_clamped_as_the_spec_says():
    assert sha512_crypt("pw", "a" * 20).split("$")[2] == "a" * 16
    assert md5_crypt("pw", "b" * 12).split("$")[2] == "b" * 8
    assert sha256_crypt("pw", "salt", 1).startswith("$5$rounds=1000$salt$")
    assert sha512_crypt("pw", "salt", 5000) == sha512_crypt("pw", "salt")


def test_verify_gives_false_for_a_hash_libpass_cannot_parse():
    checksum = sha512_crypt("pw", "salt").split("$")[-1]
    assert not verify_crypt("pw", f"$6$sa!t${checksum}")  # a salt character outside crypt's alphabet


@pytest.mark.parametrize("function, prefix", [(sha512_crypt, "$6$"), (sha256_crypt, "$5$"), (md5_crypt, "$1$")])
def test_new_hashes_are_formats_google_accepts(function, prefix):
    hashed = function("a password")
    assert hashed.startswith(prefix)
    assert from_directory({"userPassword": [b"{CRYPT}" + hashed.encode()]}) == (PasswordHash(hashed, "crypt"), "")
