"""Service accounts with domain-wide delegation, the JWT-bearer token grant, access tokens."""

import base64
import functools
import json
import random
import secrets
import string
import time
import urllib.parse
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3600
CLOCK_SKEW = 60
PROJECT_ID = "google-sync-emulator"

_SCOPE = "https://www.googleapis.com/auth/"
DIRECTORY_SCOPES = tuple(
    _SCOPE + name
    for name in (
        "admin.directory.user",
        "admin.directory.user.readonly",
        "admin.directory.user.alias",
        "admin.directory.user.alias.readonly",
        "admin.directory.group",
        "admin.directory.group.readonly",
        "admin.directory.group.member",
        "admin.directory.group.member.readonly",
        "admin.directory.orgunit",
        "admin.directory.orgunit.readonly",
        "admin.directory.domain.readonly",
        "admin.directory.userschema",
        "admin.directory.userschema.readonly",
        "apps.groups.settings",
        "apps.licensing",
        "admin.directory.user.security",
        "admin.datatransfer",
        "admin.datatransfer.readonly",
    )
)


class GrantError(Exception):
    """A refused token request, answered in OAuth's error format."""

    def __init__(self, status, error, description):
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


@dataclass
class AccessToken:
    subject: str  # the impersonated user, or None for the service account itself
    scopes: frozenset
    client_id: str
    expires: float
    refresh: str = None  # digest of the refresh token it was made from (OAuth web flow)


class Authority:
    """Registered service accounts (by key id) and the access tokens issued to them."""

    def __init__(self):
        self.keys = {}  # private_key_id -> {client_email, client_id, public_key (PEM)}
        self.delegations = {}  # client_id -> set of delegated scopes
        self.tokens = {}  # access token -> AccessToken
        self.accounts = set()  # client_email of each service account that exists (whether or not it has keys left)

    # service accounts ---------------------------------------------------------------------
    def create_service_account(self, token_uri, scopes=None, name=None):
        """A new key (RSA 2048) in Google's JSON key file format, registered and delegated."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        client_id = "1" + "".join(random.choice(string.digits) for _ in range(20))
        name = name or "google-sync-%d" % (len(self.keys) + 1)
        info = {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": "%s@%s.iam.gserviceaccount.com" % (name, PROJECT_ID),
            "client_id": client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + urllib.parse.quote(name + "@" + PROJECT_ID + ".iam.gserviceaccount.com"),
            "universe_domain": "googleapis.com",
        }
        self.register(info, scopes)
        return info

    def register(self, info, scopes=None):
        """Trust the public half of a key file and delegate `scopes` (default: all directory)."""
        public_pem = _public_pem(info["private_key"])
        self.keys[info["private_key_id"]] = {
            "client_email": info["client_email"],
            "client_id": str(info["client_id"]),
            "public_key": public_pem,
        }
        self.delegations[str(info["client_id"])] = set(DIRECTORY_SCOPES if scopes is None else scopes)
        self.accounts.add(info["client_email"])

    def delete_key(self, private_key_id):
        """The key deleted in the Cloud console: its account stays, a token signed with it is refused."""
        self.keys.pop(private_key_id, None)

    def delete_account(self, client_email):
        """The service account deleted (with its keys): Google no longer knows it."""
        self.accounts.discard(client_email)
        for key_id in [key_id for key_id, account in self.keys.items() if account["client_email"] == client_email]:
            del self.keys[key_id]

    # token grant --------------------------------------------------------------------------
    def grant(self, form, token_uri, subject_ok):
        """Answer a token request; `subject_ok(email)` says if a user may be impersonated."""
        if form.get("grant_type") != JWT_BEARER:
            raise GrantError(400, "unsupported_grant_type", "Invalid grant_type: %s" % form.get("grant_type", ""))
        header, claims, signed, signature = _split_jwt(form.get("assertion", ""))
        account = self._verify_signature(header, claims, signed, signature)
        _check_claims(claims, token_uri)
        subject = claims.get("sub")
        if subject is not None and not subject_ok(subject):
            raise GrantError(400, "invalid_grant", "Invalid email or User ID")
        scopes = frozenset(claims.get("scope", "").split())
        if not scopes:
            raise GrantError(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        if subject is not None and not scopes <= self.delegations.get(account["client_id"], set()):
            raise GrantError(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.",
            )
        token = "ya29." + secrets.token_urlsafe(48)
        self.tokens[token] = AccessToken(
            subject.lower() if subject else None, scopes, account["client_id"], time.time() + TOKEN_LIFETIME
        )
        return {"access_token": token, "expires_in": TOKEN_LIFETIME - 1, "token_type": "Bearer"}

    def _verify_signature(self, header, claims, signed, signature):
        if header.get("alg") != "RS256":
            raise GrantError(400, "invalid_grant", "Invalid JWT Signature.")
        key_id = header.get("kid")
        candidates = list(self.keys.values()) if key_id is None else [self.keys[key_id]] if key_id in self.keys else []
        for account in candidates:
            if account["client_email"] != claims.get("iss"):
                continue
            public_key = serialization.load_pem_public_key(account["public_key"].encode())
            try:
                public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
                return account
            except InvalidSignature:
                pass
        if claims.get("iss") not in self.accounts:
            # Google's answer for a service account it does not know: deleted, disabled, or another project's.
            raise GrantError(400, "invalid_grant", "Invalid grant: account not found")
        raise GrantError(400, "invalid_grant", "Invalid JWT Signature.")  # a known account, but not this key

    # access tokens ------------------------------------------------------------------------
    def lookup(self, authorization):
        """The live AccessToken named by an `Authorization: Bearer …` header, or None."""
        if not authorization:
            return None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = self.tokens.get(value.strip())
        if token is None or token.expires <= time.time():
            return None
        return token

    def expire_tokens(self):
        self.tokens.clear()

    # persistence --------------------------------------------------------------------------
    def to_dict(self):
        return {
            "keys": self.keys,
            "delegations": {k: sorted(v) for k, v in self.delegations.items()},
            "accounts": sorted(self.accounts),
        }

    def load(self, data):
        self.keys.update(data.get("keys", {}))
        self.accounts.update(data.get("accounts", (key["client_email"] for key in self.keys.values())))
        self.delegations.update({k: set(v) for k, v in data.get("delegations", {}).items()})


@functools.lru_cache(maxsize=64)
def _public_pem(private_pem):
    """The public half of a PEM private key (cached: loading checks the key, which is slow)."""
    private_key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _b64decode(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _split_jwt(assertion):
    try:
        head, body, sig = assertion.split(".")
        header, claims = json.loads(_b64decode(head)), json.loads(_b64decode(body))
        signature = _b64decode(sig)
    except ValueError:
        raise GrantError(400, "invalid_grant", "Invalid JWT: malformed assertion.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise GrantError(400, "invalid_grant", "Invalid JWT: malformed assertion.")
    return header, claims, (head + "." + body).encode(), signature


def _check_claims(claims, token_uri):
    if claims.get("aud") not in (GOOGLE_TOKEN_AUDIENCE, token_uri):
        raise GrantError(
            400,
            "invalid_grant",
            "Invalid JWT: Failed audience check. The expected value was %s" % GOOGLE_TOKEN_AUDIENCE,
        )
    issued, expires, now = claims.get("iat"), claims.get("exp"), time.time()
    if (
        not isinstance(issued, (int, float))
        or not isinstance(expires, (int, float))
        or (
            expires - issued > TOKEN_LIFETIME
            or expires <= issued
            or issued > now + CLOCK_SKEW
            or expires < now - CLOCK_SKEW
        )
    ):
        raise GrantError(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe. Check your iat and exp values in the JWT claim.",
        )
