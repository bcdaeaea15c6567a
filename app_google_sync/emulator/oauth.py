"""The OAuth 2.0 web-server flow: OAuth clients, consent, codes, refresh tokens, revocation.

Google's endpoints, emulated: the authorization endpoint (`/o/oauth2/auth`, also `/o/oauth2/v2/auth`),
the token endpoint's `authorization_code` and `refresh_token` grants (`/token`), and
revocation (`/revoke`). Access tokens are the Authority's, so a token from this flow is checked
like a service account's: it acts as the signed-in user with the consented scopes.

Choices where Google leaves room:
- The sign-in and the consent are one page; there is no browser session, so every authorization
  asks for the password, and `prompt=none` always answers `error=login_required`.
- A refresh token comes with `access_type=offline` on the first consent of a user to a client,
  or whenever `prompt=consent` is given (as Google does); otherwise none.
- An authorization code lives 10 minutes and is spent by the first exchange that names it with
  the right client, whether or not that exchange succeeds.
- `openid`, `email` and `profile` scopes are accepted, but no id_token is returned.
- Client secrets and refresh tokens are kept as SHA-256 digests (the state file holds no secret).
"""

import base64
import hashlib
import hmac
import json
import random
import re
import secrets
import string
import time
import urllib.parse
from dataclasses import dataclass, field
from importlib import resources

from .auth import DIRECTORY_SCOPES, TOKEN_LIFETIME, AccessToken, GrantError
from .httpd import is_loopback

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
AUTH_PATHS = ("/o/oauth2/auth", "/o/oauth2/v2/auth")
APPROVAL_PATH = "/o/oauth2/approval"
REVOKE_PATHS = ("/revoke", "/o/oauth2/revoke")
CODE_LIFETIME = 600
PENDING_LIFETIME = 3600
MAX_PENDING = 1000
PROJECT_NUMBER_DIGITS = 12

_SCOPE = "https://www.googleapis.com/auth/"
IDENTITY_SCOPES = {
    "openid": "Associate you with your personal info on Google",
    _SCOPE + "userinfo.email": "See your primary Google Account email address",
    _SCOPE + "userinfo.profile": "See your personal info, including any personal info you've made publicly available",
}
SHORT_SCOPES = {"email": _SCOPE + "userinfo.email", "profile": _SCOPE + "userinfo.profile"}
# Parameters Google's authorization endpoint takes; any other one is refused.
AUTH_PARAMS = {
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "access_type",
    "prompt",
    "login_hint",
    "include_granted_scopes",
    "code_challenge",
    "code_challenge_method",
    "hd",
    "nonce",
    "enable_granular_consent",
    "authuser",
    "hl",
    "display",
    "approval_prompt",
}
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class AuthorizationError(Exception):
    """An authorization request Google answers with its error page (not a redirect)."""

    def __init__(self, status, error, description):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class Pending:
    """An authorization request waiting for the user to sign in and allow (or cancel)."""

    client_id: str
    redirect_uri: str
    scopes: tuple
    state: str
    challenge: str
    challenge_method: str
    offline: bool
    prompt: set
    login_hint: str
    expires: float


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    subject: str
    user_id: str
    scopes: tuple
    challenge: str
    challenge_method: str
    refresh: bool
    expires: float


@dataclass
class WebFlow:
    """OAuth clients and the grants made to them. Callers hold the emulator's lock."""

    authority: object
    clients: dict = field(default_factory=dict)  # client_id -> {secret_sha256, redirect_uris, name}
    refresh_tokens: dict = field(default_factory=dict)  # sha256(token) -> {client_id, subject, scopes}
    pending: dict = field(default_factory=dict)  # request id -> Pending
    codes: dict = field(default_factory=dict)  # code -> Code

    # clients ----------------------------------------------------------------------------
    def create_client(self, redirect_uris, auth_uri, token_uri, name=None):
        """A new web client, in the `{"web": {...}}` JSON format of Google's Cloud Console."""
        for uri in redirect_uris:
            check_redirect_uri(uri)
        project = random.randint(10 ** (PROJECT_NUMBER_DIGITS - 1), 10**PROJECT_NUMBER_DIGITS - 1)
        client_id = "%s-%s.apps.googleusercontent.com" % (
            project,
            "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(32)),
        )
        secret = "GOCSPX-" + secrets.token_urlsafe(21)[:28]
        config = {
            "web": {
                "client_id": client_id,
                "project_id": "google-sync-emulator",
                "auth_uri": auth_uri,
                "token_uri": token_uri,
                "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
                "client_secret": secret,
                "redirect_uris": list(redirect_uris),
            }
        }
        self.register_client(config, name=name)
        return config

    def register_client(self, config, redirect_uris=(), name=None):
        """Trust an existing client file (`{"web": {...}}` or its inner dict); add redirect URIs."""
        web = config.get("web", config)
        uris = list(dict.fromkeys(list(web.get("redirect_uris", [])) + list(redirect_uris)))
        for uri in uris:
            check_redirect_uri(uri)
        self.clients[web["client_id"]] = {
            "secret_sha256": _digest(web["client_secret"]),
            "redirect_uris": uris,
            "name": name or "Google Sync",
        }

    # authorization endpoint ----------------------------------------------------------------
    def begin(self, query):
        """Check an authorization request as Google does; returns (request id, Pending).

        Raises AuthorizationError for what Google shows as an error page, or returns a
        redirect URL string for `prompt=none` (which needs a session the emulator never has).
        """
        client_id = _required(query, "client_id")
        client = self.clients.get(client_id)
        if client is None:
            raise AuthorizationError(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = _required(query, "redirect_uri")
        if redirect_uri not in client["redirect_uris"]:
            raise AuthorizationError(
                400,
                "redirect_uri_mismatch",
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. "
                "If you're the app developer, register the redirect URI in the Google Cloud Console. "
                "Request details: redirect_uri=%s" % redirect_uri,
            )
        for name in query:
            if name not in AUTH_PARAMS:
                raise AuthorizationError(
                    400, "invalid_request", "Parameter not allowed for this message type: %s" % name
                )
        response_type = query.get("response_type")
        if not response_type:
            raise AuthorizationError(400, "invalid_request", "Required parameter is missing: response_type")
        if response_type != "code":
            raise AuthorizationError(400, "unsupported_response_type", "Invalid response_type: %s" % response_type)
        scopes = self._scopes(_required(query, "scope"))
        offline = query.get("access_type", "online")
        if offline not in ("online", "offline"):
            raise AuthorizationError(400, "invalid_request", "Invalid access_type: %s" % offline)
        prompt = set(query.get("prompt", "").split())
        if not prompt <= {"none", "consent", "select_account"} or ("none" in prompt and len(prompt) > 1):
            raise AuthorizationError(400, "invalid_request", "Invalid prompt: %s" % query.get("prompt"))
        challenge, method = query.get("code_challenge", ""), query.get("code_challenge_method", "")
        if method and not challenge:
            raise AuthorizationError(400, "invalid_request", "Missing code_challenge.")
        if challenge:
            method = method or "plain"
            if method not in ("S256", "plain"):
                raise AuthorizationError(400, "invalid_request", "Invalid code_challenge_method value.")
            if not _VERIFIER.match(challenge):
                raise AuthorizationError(400, "invalid_request", "Invalid code_challenge value.")
        pending = Pending(
            client_id,
            redirect_uri,
            scopes,
            query.get("state", ""),
            challenge,
            method,
            offline == "offline",
            prompt,
            query.get("login_hint", ""),
            time.time() + PENDING_LIFETIME,
        )
        if "none" in prompt:
            return redirect_url(redirect_uri, error="login_required", state=pending.state)
        self._forget_stale()
        request_id = secrets.token_urlsafe(24)
        self.pending[request_id] = pending
        return request_id, pending

    def pending_request(self, request_id):
        pending = self.pending.get(request_id or "")
        if pending is None or pending.expires <= time.time():
            raise AuthorizationError(
                400,
                "invalid_request",
                "This sign-in request has expired or was already used. Go back to the app and start again.",
            )
        return pending

    def cancel(self, request_id):
        pending = self.pending.pop(request_id)
        return redirect_url(pending.redirect_uri, error="access_denied", state=pending.state)

    def approve(self, request_id, subject, user_id, domain):
        """The user signed in and allowed: a redirect URL carrying a fresh code."""
        pending = self.pending.pop(request_id)
        code = self.issue_code(pending, subject, user_id)
        return redirect_url(
            pending.redirect_uri,
            state=pending.state,
            code=code,
            scope=" ".join(pending.scopes),
            authuser="0",
            hd=domain,
            prompt="consent",
        )

    def issue_code(self, pending, subject, user_id):
        refresh = pending.offline and (
            "consent" in pending.prompt or not self._has_refresh_token(pending.client_id, user_id)
        )
        code = "4/0A" + secrets.token_urlsafe(54)
        self.codes = {k: v for k, v in self.codes.items() if v.expires > time.time()}
        self.codes[code] = Code(
            pending.client_id,
            pending.redirect_uri,
            subject,
            user_id,
            pending.scopes,
            pending.challenge,
            pending.challenge_method,
            refresh,
            time.time() + CODE_LIFETIME,
        )
        return code

    def _scopes(self, text):
        requested = [SHORT_SCOPES.get(s, s) for s in text.split()]
        if not requested:
            raise AuthorizationError(400, "invalid_request", "Missing required parameter: scope")
        invalid = [s for s in requested if s not in known_scopes()]
        if invalid:
            valid = [s for s in requested if s in known_scopes()]
            raise AuthorizationError(
                400,
                "invalid_scope",
                "Some requested scopes were invalid. {valid=[%s], "
                "invalid=[%s]}" % (", ".join(valid), ", ".join(invalid)),
            )
        return tuple(dict.fromkeys(requested))

    def _forget_stale(self):
        now = time.time()
        for key in [k for k, p in self.pending.items() if p.expires <= now]:
            del self.pending[key]
        while len(self.pending) >= MAX_PENDING:
            del self.pending[next(iter(self.pending))]

    def _has_refresh_token(self, client_id, user_id):
        return any(r["client_id"] == client_id and r["user_id"] == user_id for r in self.refresh_tokens.values())

    # token endpoint ---------------------------------------------------------------------------
    def grant(self, form, authorization, user_id_of):
        """Answer an `authorization_code` or `refresh_token` grant.

        `user_id_of(email)` is the id of an active (existing, not suspended) user, else None:
        a grant made to a user who was since deleted (even if the address was reused) is dead.
        """
        client_id = self._authenticate(form, authorization)
        if form["grant_type"] == "authorization_code":
            return self._exchange_code(form, client_id, user_id_of)
        return self._refresh(form, client_id, user_id_of)

    def _authenticate(self, form, authorization):
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except ValueError:
                raise GrantError(401, "invalid_client", "Unauthorized") from None
            client_id, secret = urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
        if not client_id:
            raise GrantError(400, "invalid_request", "Could not determine client ID from request.")
        client = self.clients.get(client_id)
        if client is None:
            raise GrantError(401, "invalid_client", "The OAuth client was not found.")
        if secret is None or not hmac.compare_digest(_digest(secret), client["secret_sha256"]):
            raise GrantError(401, "invalid_client", "Unauthorized")
        return client_id

    def _exchange_code(self, form, client_id, user_id_of):
        value = form.get("code")
        if not value:
            raise GrantError(400, "invalid_request", "Missing required parameter: code")
        code = self.codes.get(value)
        if code is None or code.client_id != client_id:
            raise GrantError(
                400, "invalid_grant", "Malformed auth code." if not value.startswith("4/") else "Bad Request"
            )
        del self.codes[value]  # spent, whatever happens next
        if code.expires <= time.time():
            raise GrantError(400, "invalid_grant", "Bad Request")
        if not form.get("redirect_uri"):
            raise GrantError(400, "invalid_request", "Missing required parameter: redirect_uri")
        if form["redirect_uri"] != code.redirect_uri:
            raise GrantError(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier")
        if code.challenge:
            if not verifier:
                raise GrantError(400, "invalid_grant", "Missing code verifier.")
            if not hmac.compare_digest(_challenge_of(verifier, code.challenge_method), code.challenge):
                raise GrantError(400, "invalid_grant", "Invalid code verifier.")
        elif verifier:
            raise GrantError(400, "invalid_request", "code_verifier or verifier is not needed.")
        if user_id_of(code.subject) != code.user_id:
            raise GrantError(400, "invalid_grant", "Bad Request")
        answer = {}
        refresh_token = None
        if code.refresh:
            refresh_token = "1//0" + secrets.token_urlsafe(72)
            self.refresh_tokens[_digest(refresh_token)] = {
                "client_id": client_id,
                "subject": code.subject,
                "user_id": code.user_id,
                "scopes": list(code.scopes),
                "created": time.time(),
            }
        answer["access_token"] = self._access_token(code.subject, code.scopes, client_id, refresh_token)
        answer["expires_in"] = TOKEN_LIFETIME - 1
        if refresh_token:
            answer["refresh_token"] = refresh_token
        answer["scope"] = " ".join(code.scopes)
        answer["token_type"] = "Bearer"
        return answer

    def _refresh(self, form, client_id, user_id_of):
        value = form.get("refresh_token")
        if not value:
            raise GrantError(400, "invalid_request", "Missing required parameter: refresh_token")
        grant = self.refresh_tokens.get(_digest(value))
        if grant is None or user_id_of(grant["subject"]) != grant["user_id"]:
            raise GrantError(400, "invalid_grant", "Token has been expired or revoked.")
        if grant["client_id"] != client_id:
            raise GrantError(401, "unauthorized_client", "Unauthorized")
        scopes = tuple(grant["scopes"])
        if form.get("scope"):
            wanted = tuple(dict.fromkeys(SHORT_SCOPES.get(s, s) for s in form["scope"].split()))
            if not set(wanted) <= set(scopes):
                raise GrantError(
                    400, "invalid_scope", "The requested scope exceeds the scope granted by the resource owner."
                )
            scopes = wanted
        return {
            "access_token": self._access_token(grant["subject"], scopes, client_id, value),
            "expires_in": TOKEN_LIFETIME - 1,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }

    def _access_token(self, subject, scopes, client_id, refresh_token):
        token = "ya29." + secrets.token_urlsafe(96)
        self.authority.tokens[token] = AccessToken(
            subject,
            frozenset(scopes),
            client_id,
            time.time() + TOKEN_LIFETIME,
            _digest(refresh_token) if refresh_token else None,
        )
        return token

    # revocation -------------------------------------------------------------------------------
    def revoke(self, token):
        """Revoke an access or refresh token; a refresh token takes its access tokens along,
        and an access token its refresh token (as Google documents). False if unknown."""
        tokens = self.authority.tokens
        if token in tokens:
            grant = tokens.pop(token).refresh
            if grant is None:
                return True
        else:
            grant = _digest(token)
            if grant not in self.refresh_tokens:
                return False
        self.refresh_tokens.pop(grant, None)
        for name in [n for n, t in tokens.items() if t.refresh == grant]:
            del tokens[name]
        return True

    # persistence ------------------------------------------------------------------------------
    def to_dict(self):
        return {"clients": self.clients, "refresh_tokens": self.refresh_tokens}

    def load(self, data):
        self.clients.update(data.get("clients", {}))
        self.refresh_tokens.update(data.get("refresh_tokens", {}))


def check_redirect_uri(uri):
    """Google's rules for a web client's redirect URI (https, or http on a loopback host)."""
    split = urllib.parse.urlsplit(uri)
    if split.scheme not in ("http", "https") or not split.hostname or split.fragment or "*" in uri:
        raise ValueError("invalid redirect URI %r: must be an absolute http(s) URI without fragment or wildcard" % uri)
    if split.scheme == "http" and not is_loopback(split.hostname):
        raise ValueError("invalid redirect URI %r: must use https (http is allowed for localhost only)" % uri)


def redirect_url(uri, **params):
    """`uri` with the parameters added to its query (empty state left out)."""
    params = {k: v for k, v in params.items() if v is not None and not (k == "state" and v == "")}
    return uri + ("&" if "?" in uri else "?") + urllib.parse.urlencode(params)


def _required(query, name):
    value = query.get(name)
    if not value:
        raise AuthorizationError(400, "invalid_request", "Missing required parameter: %s" % name)
    return value


def _challenge_of(verifier, method):
    if method == "plain":
        return verifier
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _digest(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


_DOCUMENTS = ("admin.directory_v1.json", "groupssettings.v1.json")


def scope_descriptions():
    """Scope -> the consent text Google shows, from the bundled discovery documents."""
    if not hasattr(scope_descriptions, "cache"):
        texts = dict.fromkeys(DIRECTORY_SCOPES, "")
        for document in _DOCUMENTS:
            try:
                path = resources.files("googleapiclient") / "discovery_cache/documents" / document
                scopes = json.loads(path.read_text(encoding="utf-8"))["auth"]["oauth2"]["scopes"]
            except (ImportError, OSError, ValueError, KeyError):
                continue
            texts.update({name: value.get("description", "") for name, value in scopes.items()})
        texts.update(IDENTITY_SCOPES)
        scope_descriptions.cache = texts
    return scope_descriptions.cache


def known_scopes():
    return scope_descriptions().keys()
