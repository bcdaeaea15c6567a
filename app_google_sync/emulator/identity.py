"""Who may call, as Google decides it: service accounts and their keys, OAuth web clients, the token,
consent and revocation endpoints. A part of ``Emulator``, which holds the state these read.
"""

import logging
import time
import urllib.parse

from . import consent, oauth, password_store
from .auth import GOOGLE_TOKEN_AUDIENCE, JWT_BEARER, GrantError
from .httpd import NO_STORE, json_answer

log = logging.getLogger(__name__)


class Identity:
    @property
    def token_uri(self):
        return self.base_url + "token" if self._server else GOOGLE_TOKEN_AUDIENCE

    # service accounts ---------------------------------------------------------------------------
    def create_service_account(self, scopes=None, name=None):
        """A new service-account JSON key (dict), delegated domain-wide for `scopes`."""
        with self.lock:
            info = self.authority.create_service_account(self.token_uri, scopes, name)
            self._save(force=True)
        return info

    def register_service_account(self, info, scopes=None):
        """Trust an existing key file's key and delegate `scopes` (default: all directory)."""
        with self.lock:
            self.authority.register(info, scopes)
            self._save(force=True)

    def delete_service_account_key(self, info):
        """Delete the key of a key file (as in the Cloud console): its tokens are refused, "Invalid JWT Signature."."""
        with self.lock:
            self.authority.delete_key(info["private_key_id"])
            self._save(force=True)

    def delete_service_account(self, info):
        """Delete the service account of a key file: its tokens are refused, "Invalid grant: account not found"."""
        with self.lock:
            self.authority.delete_account(info["client_email"])
            self._save(force=True)

    # OAuth web clients (the console's "Connect to Google") ---------------------------------------
    @property
    def auth_uri(self):
        return self.base_url + "o/oauth2/auth" if self._server else oauth.GOOGLE_AUTH_URI

    def create_oauth_client(self, redirect_uris, name=None):
        """A new OAuth web client: its `{"web": {...}}` config as Cloud Console downloads it.

        `name` is the application name the consent page shows. Redirect URIs must be https,
        or http on a loopback host (Google's rule); ValueError otherwise.
        """
        with self.lock:
            config = self.webflow.create_client(list(redirect_uris), self.auth_uri, self.token_uri, name)
            self._save(force=True)
        return config

    def register_oauth_client(self, config, redirect_uris=(), name=None):
        """Trust an existing client config (`{"web": {...}}`), adding `redirect_uris` to it."""
        with self.lock:
            self.webflow.register_client(config, redirect_uris, name)
            self._save(force=True)

    def authorize(
        self,
        client_id,
        email,
        scopes,
        redirect_uri,
        state=None,
        code_challenge=None,
        code_challenge_method="S256",
        access_type="offline",
        prompt="consent",
    ):
        """Test helper: the authorization code a user would bring back after allowing (no password).

        The request is checked as the authorization endpoint checks it; ValueError if refused.
        """
        query = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(scopes) if not isinstance(scopes, str) else scopes,
            "access_type": access_type,
            "prompt": prompt,
        }
        if state is not None:
            query["state"] = state
        if code_challenge:
            query.update(code_challenge=code_challenge, code_challenge_method=code_challenge_method)
        with self.lock:
            try:
                started = self.webflow.begin(query)
            except oauth.AuthorizationError as refused:
                raise ValueError("Error %d: %s (%s)" % (refused.status, refused.error, refused.description)) from None
            if isinstance(started, str):
                raise ValueError("refused: %s" % started)
            request_id, pending = started
            user = self._active_user(email)
            if user is None:
                raise ValueError("no active user %s" % email)
            del self.webflow.pending[request_id]
            return self.webflow.issue_code(pending, user["primaryEmail"], user["id"])

    def oauth_grants(self):
        """The live refresh-token grants: [{"client_id", "subject", "scopes"}] (tests, "Disconnect")."""
        with self.lock:
            return [
                {"client_id": g["client_id"], "subject": g["subject"], "scopes": list(g["scopes"])}
                for g in self.webflow.refresh_tokens.values()
            ]

    def expire_tokens(self):
        """Forget every access token, as if they had expired (clients must fetch new ones)."""
        with self.lock:
            self.authority.expire_tokens()

    # OAuth endpoints -------------------------------------------------------------------------------
    def _token(self, headers, body):
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        grant_type = form.get("grant_type", "")
        with self.lock:
            self._stats["token_requests"] += 1
            try:
                if self._token_failure.hit():
                    self._stats["token_failures"] += 1
                    raise GrantError(*self._token_failure.answer())
                if grant_type in ("authorization_code", "refresh_token"):
                    payload = self.webflow.grant(form, headers.get("Authorization"), self._active_user_id)
                    self._save(force="refresh_token" in payload)
                elif grant_type == JWT_BEARER:
                    payload = self.authority.grant(form, self.token_uri, self._may_impersonate)
                else:
                    raise GrantError(400, "unsupported_grant_type", "Invalid grant_type: %s" % grant_type)
                status = 200
            except GrantError as refused:
                status, payload = refused.status, refused.body
            self.token_calls.append({"status": status, "grant_type": grant_type, "time": time.time()})
        log.info("POST /token (%s) -> %d", grant_type or "no grant_type", status)
        answer = json_answer(status, payload)
        answer[1]["Cache-Control"] = NO_STORE
        return answer

    def _active_user(self, email):
        user = self.directory.find_user(email) if "@" in (email or "") else None
        return None if user is None or user.get("suspended") else user

    def _active_user_id(self, email):
        user = self._active_user(email)
        return None if user is None else user["id"]

    def _may_impersonate(self, email):
        return self._active_user(email) is not None

    def _authorization_page(self, query_string):
        query = dict(urllib.parse.parse_qsl(query_string, keep_blank_values=True))
        with self.lock:
            try:
                started = self.webflow.begin(query)
            except oauth.AuthorizationError as refused:
                log.info("GET /o/oauth2/auth -> %d %s", refused.status, refused.error)
                return self._html(
                    refused.status, consent.error_page(refused.status, refused.error, refused.description)
                )
            if isinstance(started, str):
                return self._redirect(started)
            request_id, pending = started
            name = self.webflow.clients[pending.client_id]["name"]
        log.info("GET /o/oauth2/auth -> 200 (consent page)")
        return self._html(200, consent.consent_page(request_id, name, pending, self.domain))

    def _approval(self, body):
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        request_id = form.get("request", "")
        with self.lock:
            try:
                pending = self.webflow.pending_request(request_id)
            except oauth.AuthorizationError as refused:
                return self._html(
                    refused.status, consent.error_page(refused.status, refused.error, refused.description)
                )
            if form.get("action") != "allow":
                log.info("POST %s -> 302 access_denied", oauth.APPROVAL_PATH)
                return self._redirect(self.webflow.cancel(request_id))
            email = form.get("email", "").strip()
            user = self.directory.find_user(email) if "@" in email else None
            if user is None:
                error = "Couldn't find your Google Account"
            elif user.get("suspended"):
                error = "This account has been suspended. Contact your administrator."
            elif not password_store.matches(user["password"], form.get("password", "")):
                error = "Wrong password. Try again or click Forgot password to reset it."
            else:
                location = self.webflow.approve(request_id, user["primaryEmail"], user["id"], self.domain)
                log.info("POST %s -> 302 (code for %s)", oauth.APPROVAL_PATH, user["primaryEmail"])
                return self._redirect(location)
            name = self.webflow.clients[pending.client_id]["name"]
        log.info("POST %s -> 200 (sign-in refused)", oauth.APPROVAL_PATH)
        return self._html(200, consent.consent_page(request_id, name, pending, self.domain, email, error))

    def _revoke(self, query_string, body):
        form = dict(urllib.parse.parse_qsl(query_string))
        form.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        with self.lock:
            revoked = self.webflow.revoke(form.get("token", ""))
            if revoked:
                self._save(force=True)
        log.info("POST /revoke -> %d", 200 if revoked else 400)
        if not revoked:
            answer = json_answer(400, {"error": "invalid_token", "error_description": "Token expired or revoked"})
        else:
            answer = json_answer(200, {})
        answer[1]["Cache-Control"] = NO_STORE
        return answer

    @staticmethod
    def _html(status, page):
        return status, dict(consent.HEADERS), page

    @staticmethod
    def _redirect(location):
        return 302, {"Location": location, "Cache-Control": NO_STORE, "Content-Type": consent.HTML_TYPE}, b""
