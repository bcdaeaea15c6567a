"""The emulator: one Workspace account behind Google's Directory API, Groups Settings API and
OAuth endpoints (token, authorization with consent page, revocation).

Use from Python (tests, demo) through `Emulator`, or from the shell with `google-sync-emulator`.
Every HTTP request to an API (a single call or a batch envelope) is first admitted
(outage, concurrent-requests cap), then served, then answered (late or never, if asked).
Every API call, including each part of a batch, goes through `_api_call`:
route → bearer token → scope → admin → quota (per subject) → injected failure → parameters →
handler (which may refuse what has not propagated yet) → `fields` selection; each is
recorded in `calls` and counted in `stats()`.
"""

import base64
import json
import logging
import os
import random
import socket
import threading
import time
import urllib.parse
from collections import Counter, deque
from http.server import ThreadingHTTPServer

from . import api_domains, api_groups, api_licensing, api_members, api_orgunits, api_photos, api_schemas, api_settings, api_users  # noqa: F401  (routes)
from . import batch, consent, errors, fields, oauth, paging, password_store, resources, routing
from .auth import DIRECTORY_SCOPES, GOOGLE_TOKEN_AUDIENCE, JWT_BEARER, Authority, GrantError
from .faults import HTML_PAGE, Countdown, Garble, OddShapes, Outage, ThinPages, TokenFailure
from .httpd import Handler, Truncated, is_loopback, json_answer, json_body
from .limits import InFlight, Quota
from .propagation import Propagation
from .state import Directory, save_json

log = logging.getLogger(__name__)

# Batch endpoint -> the API its parts must call (None: any).
BATCH_PATHS = {"/batch/admin/directory_v1": "directory", "/batch/groupssettings/v1": "groupssettings",
               "/batch": None}
NO_STORE = "no-cache, no-store, max-age=0, must-revalidate"
# The counters of stats(), all present even at zero.
STATS = ("http_requests", "batches", "calls", "accepted", "rejected_quota", "rejected_concurrency",
         "rejected_outage", "failed_injected", "answers_delayed", "answers_dropped", "answers_garbled",
         "token_requests", "token_failures")


def _recorded_body(body):
    """The JSON body a call sent, as tests inspect it; a password never kept."""
    try:
        value = json.loads(body.decode("utf-8")) if body and body.strip() else None
    except ValueError:
        return None
    if isinstance(value, dict) and "password" in value:
        value["password"] = "(not kept)"
    return value


class Emulator:
    """A local Admin SDK Directory API v1 with its OAuth token endpoint (thread-safe)."""

    def __init__(self, domain="example.com", admin_email="admin@example.com", quota_per_window=None,
                 quota_window=60.0, latency=0.0, fail_rate=0.0, state_file=None, admin_password=None,
                 quota_status=403, max_concurrent=None, propagation_delay=0.0, answer_delay=0.0,
                 outage=False, clock=time.monotonic):
        self.clock = clock       # quota windows, outage_for and propagation run on it (tests pass a fake)
        self._quota = Quota(clock, quota_per_window, quota_window, quota_status)
        self._in_flight = InFlight(max_concurrent)
        self._propagation = Propagation(clock, propagation_delay)
        self._outage = Outage(clock)
        self._outage.switch(outage)
        self._token_failure = TokenFailure()
        self._drops = Countdown()
        self._garble = Garble()
        self._thin = None  # a ThinPages while list pages are thin
        self._shapes = OddShapes()
        self._stats = Counter()
        self.latency = latency
        self.answer_delay = answer_delay  # seconds between serving a request and answering it
        self.delay_only_writes = False  # answer_delay (and drops) only for requests that changed something
        self._writes = 0  # write calls served, so a request knows whether it wrote
        self.fail_rate = fail_rate
        self.state_file = state_file
        self.calls = []          # one dict per Directory API call (batch parts included)
        self.token_calls = []    # one dict per token request
        self.batches = []        # one dict per batch envelope
        self.lock = threading.RLock()
        self.authority = Authority()
        self.webflow = oauth.WebFlow(self.authority)
        self.directory = Directory(domain)
        self._failures = deque()
        self._failing_objects = frozenset()  # calls whose path names one of these answer 503 (fail_calls_about)
        self._server = self._thread = None
        self.open_connections = set()
        if state_file and os.path.exists(state_file):
            self._load(state_file)
            if domain.lower() not in self.directory.domains:
                raise ValueError("%s holds the account of %s, not %s"
                                 % (state_file, self.directory.primary_domain, domain))
        self.admin_email = admin_email.lower()
        if not self.directory.in_our_domains(self.admin_email):
            raise ValueError("admin %s is not in the domain %s" % (admin_email, self.domain))
        if self.directory.find_user(self.admin_email) is None:
            self._create_admin(admin_password)

    def _create_admin(self, password):
        """The super administrator a service account impersonates (terms already accepted)."""
        admin = self.add_user(self.admin_email, "Super", "Admin", password=password or os.urandom(18).hex(),
                              is_admin=True)
        with self.lock:
            self.directory.users[admin["id"]]["agreedToTerms"] = True
            self.directory.changed = True
            self._save()

    # life cycle -------------------------------------------------------------------------------
    def start(self, host="127.0.0.1", port=0, allow_remote=False):
        """Serve in a background thread; port 0 picks a free port. Loopback only unless allowed."""
        if not allow_remote and not is_loopback(host):
            raise ValueError("refusing to listen on non-loopback address %r" % host)
        handler = type("Handler", (Handler,), {"emulator": self})
        server_class = ThreadingHTTPServer
        if ":" in host:
            server_class = type("Server6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
        self._server = server_class((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="google-sync-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        for connection in list(self.open_connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join()
        self._server = self._thread = None

    @property
    def base_url(self):
        host, port = self._server.server_address[:2]
        return ("http://[%s]:%d/" if ":" in host else "http://%s:%d/") % (host, port)

    @property
    def token_uri(self):
        return self.base_url + "token" if self._server else GOOGLE_TOKEN_AUDIENCE

    @property
    def domain(self):
        return self.directory.primary_domain

    @property
    def customer_id(self):
        return self.directory.customer_id

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

    def authorize(self, client_id, email, scopes, redirect_uri, state=None, code_challenge=None,
                  code_challenge_method="S256", access_type="offline", prompt="consent"):
        """Test helper: the authorization code a user would bring back after allowing (no password).

        The request is checked as the authorization endpoint checks it; ValueError if refused.
        """
        query = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
                 "scope": " ".join(scopes) if not isinstance(scopes, str) else scopes,
                 "access_type": access_type, "prompt": prompt}
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
            return [{"client_id": g["client_id"], "subject": g["subject"], "scopes": list(g["scopes"])}
                    for g in self.webflow.refresh_tokens.values()]

    def expire_tokens(self):
        """Forget every access token, as if they had expired (clients must fetch new ones)."""
        with self.lock:
            self.authority.expire_tokens()

    # seeding and inspection (no quota, not recorded) ---------------------------------------------
    def add_domain(self, domain, alias_of=None, verified=True):
        """A secondary domain of the account, or (``alias_of`` its parent) a domain alias: users and groups
        cannot have their primary address in an alias domain, but aliases can be added there. Unverified
        (``verified=False``), it is listed by domains.list with verified false and no address can be made in it."""
        with self.lock:
            self.directory.add_domain(domain, alias_of, verified)
            self._save()

    def add_sku(self, product, sku, seats, name=None):
        """A licence SKU of the account with ``seats`` licences (the Enterprise License Manager's view)."""
        with self.lock:
            self.directory.skus["%s/%s" % (product, sku)] = {"productName": product, "skuName": name or sku,
                                                             "seats": seats, "assigned": []}
            self.directory.changed = True
            self._save()

    def auto_license(self, product, sku):
        """Google's automatic licensing: every user created from now on gets this SKU (while seats remain)."""
        with self.lock:
            self.directory.auto_license = "%s/%s" % (product, sku)
            self._save()

    def licensed(self, product, sku):
        """Primary addresses of the users holding a licence of the SKU, sorted."""
        with self.lock:
            record = self.directory.skus["%s/%s" % (product, sku)]
            return sorted(self.directory.users[user_id]["primaryEmail"] for user_id in record["assigned"])

    def add_schema(self, name, fields):
        """A custom user schema: ``fields`` is [(fieldName, fieldType, multiValued)]; returns its resource."""
        body = {"schemaName": name, "fields": [{"fieldName": field, "fieldType": kind, "multiValued": multi}
                                               for field, kind, multi in fields]}
        with self.lock:
            resource = self._seed(api_schemas.insert_schema, body, params={"customerId": "my_customer"})
            self._save()
        return resource

    def add_user(self, primary_email, given_name, family_name, password=None, suspended=False,
                 is_admin=False, hash_function=None, **fields_):
        """Create a user as users.insert would (same rules); returns its resource."""
        body = dict(fields_, primaryEmail=primary_email, name={"givenName": given_name, "familyName": family_name},
                    password=password if password is not None else os.urandom(12).hex(), suspended=suspended)
        if hash_function:
            body["hashFunction"] = hash_function
        with self.lock:
            resource = self._seed(api_users.insert_user, body)
            if is_admin:
                self.directory.users[resource["id"]]["isAdmin"] = True
                resource = resources.user(self.directory.users[resource["id"]], self.directory)
            self._save()
        return resource

    def add_group(self, email, name=None, description=""):
        body = {"email": email, "description": description}
        if name is not None:
            body["name"] = name
        with self.lock:
            resource = self._seed(api_groups.insert_group, body)
            self._save()
        return resource

    def add_member(self, group_email, member_email, role="MEMBER"):
        with self.lock:
            resource = self._seed(api_members.insert_member, {"email": member_email, "role": role},
                                  {"groupKey": group_email})
            self._save()
        return resource

    def users(self):
        with self.lock:
            records = sorted(self.directory.users.values(), key=lambda u: u["primaryEmail"])
            return [resources.user(u, self.directory) for u in records]

    def photo(self, key):
        """(mimeType, bytes) of a user's photo, or None."""
        with self.lock:
            record = self.directory.find_user(key)
            photo = record.get("photo") if record else None
            return (photo["mimeType"], base64.urlsafe_b64decode(photo["photoData"])) if photo else None

    def get_user(self, key):
        with self.lock:
            record = self.directory.find_user(key)
            return resources.user(record, self.directory) if record else None

    def groups(self):
        with self.lock:
            records = sorted(self.directory.groups.values(), key=lambda g: g["email"])
            return [resources.group(g, self.directory) for g in records]

    def get_group(self, key):
        with self.lock:
            record = self.directory.find_group(key)
            return resources.group(record, self.directory) if record else None

    def members(self, group_email):
        """Member addresses of a group (the customer id for a whole-customer member)."""
        with self.lock:
            group = self.directory.group(group_email)
            return [resources.member(m, self.directory).get("email", m["id"])
                    for m in self.directory.members[group["id"]].values()]

    def group_settings(self, email):
        """The Groups Settings resource of a group (as groupssettings groups.get answers), or None."""
        with self.lock:
            try:
                return api_settings.group_settings(self.directory, email)
            except errors.ApiError:
                return None

    def member_roles(self, group_email):
        with self.lock:
            group = self.directory.group(group_email)
            return {resources.member(m, self.directory).get("email", m["id"]): m["role"]
                    for m in self.directory.members[group["id"]].values()}

    def check_password(self, email, candidate):
        """Test helper: does the stored password (cleartext, MD5, SHA-1 or crypt) match?

        False for an unknown user. Cleartext passwords are kept salted and hashed.
        """
        with self.lock:
            record = self.directory.find_user(email)
        return record is not None and password_store.matches(record["password"], candidate)

    def stored_password(self, email):
        """(hashFunction or None for cleartext, stored value), or None for an unknown user.

        The value is the digest or crypt string as received, or the emulator's own salted
        hash of a cleartext password.
        """
        with self.lock:
            record = self.directory.find_user(email)
        return None if record is None else (record["password"]["hashFunction"], record["password"]["value"])

    # call control --------------------------------------------------------------------------------
    def write_calls(self):
        """The recorded API calls that are not GET (batch parts included)."""
        with self.lock:
            return [dict(call) for call in self.calls if call["method"] != "GET"]

    def reset_calls(self):
        """Forget the recorded calls, token requests, batches and stats."""
        with self.lock:
            self.calls.clear()
            self.token_calls.clear()
            self.batches.clear()
            self._stats.clear()

    def fail_next(self, count, status=503, reason="backendError", retry_after=None):
        """Make the next `count` API calls (batch parts included) fail with `status`/`reason`,
        their answers carrying a Retry-After header of `retry_after` seconds if given."""
        with self.lock:
            self._failures.extend([(status, reason, retry_after)] * count)

    def fail_calls_about(self, *keys, status=503, reason="backendError"):
        """Every call whose path names one of ``keys`` (an address, an id) fails with `status`/`reason`,
        batch parts included, until called again with other keys (none: no more such failures). The
        trouble of one object, while the rest of the account answers."""
        with self.lock:
            self._failing_objects = frozenset(key.lower() for key in keys)
            self._object_failure = (status, reason)

    # limits (settable while serving) -------------------------------------------------------------
    @property
    def quota_per_window(self):
        """API calls each delegated subject may make per window (None: unlimited)."""
        return self._quota.per_window

    @quota_per_window.setter
    def quota_per_window(self, value):
        with self.lock:
            self._quota.per_window = value

    @property
    def quota_window(self):
        return self._quota.window

    @quota_window.setter
    def quota_window(self, seconds):
        with self.lock:
            self._quota.window = seconds

    @property
    def quota_status(self):
        """403 (userRateLimitExceeded, the default) or 429 (rateLimitExceeded) past the quota."""
        return self._quota.status

    @quota_status.setter
    def quota_status(self, status):
        with self.lock:
            self._quota.status = status

    @property
    def max_concurrent(self):
        """HTTP requests (calls or batch envelopes) served at once; more get 403 quotaExceeded."""
        return self._in_flight.limit

    @max_concurrent.setter
    def max_concurrent(self, value):
        with self.lock:
            self._in_flight.limit = value

    @property
    def requests_in_flight(self):
        """API requests (calls or batch envelopes) being served right now."""
        with self.lock:
            return self._in_flight.count

    @property
    def propagation_delay(self):
        """Seconds (on `clock`) before what the API creates is usable everywhere; see propagation.py."""
        return self._propagation.delay

    @propagation_delay.setter
    def propagation_delay(self, seconds):
        with self.lock:
            self._propagation.delay = seconds

    # trouble (settable while serving) ------------------------------------------------------------
    @property
    def outage(self):
        """True while every API call and batch envelope answers 503 backendError."""
        with self.lock:
            return self._outage.active()

    @outage.setter
    def outage(self, on):
        """Switch the outage on, or off (which also ends an outage_for)."""
        with self.lock:
            self._outage.switch(on)

    def outage_for(self, seconds):
        """An outage of `seconds` on the emulator's clock, starting now."""
        with self.lock:
            self._outage.last(seconds)

    @property
    def fail_tokens(self):
        """True while token requests are set to fail (see fail_tokens_after)."""
        return self._token_failure.armed

    @fail_tokens.setter
    def fail_tokens(self, on):
        self.fail_tokens_after(0 if on else None)

    def fail_tokens_after(self, count, times=None, status=400):
        """Let the next `count` token requests through, then fail `times` of them (None: all).

        Failed requests answer `status` with Google's OAuth error: 400 invalid_grant and
        401 invalid_client make google-auth raise RefreshError at once; 500 internal_failure
        and 503 temporarily_unavailable it retries (with back-off) first. `count` None: stop.
        Every grant type at /token fails alike; access tokens already issued stay valid
        (expire_tokens() makes clients come back for new ones).
        """
        with self.lock:
            self._token_failure.arm(count, times, status)

    def drop_answers_after(self, count, times=None):
        """Answer the next `count` API requests, then hang up on `times` of them (None: all).

        A request whose answer is dropped is served in full (and saved) first; its
        connection is then closed with no response. A batch envelope is one request.
        Note httplib2 silently sends a request once more when the connection closes
        without an answer. `count` None: stop dropping.
        """
        with self.lock:
            self._drops.arm(count, times)

    def garble_answers_after(self, count, times=None, kind="html"):
        """Answer the next `count` API requests, then spoil the answer of `times` of them (None: all).

        `kind`: "html" (a 502 HTML error page, as a proxy or Google's front end sends),
        "html-200" (an HTML page with status 200, as a captive proxy sends), "truncated"
        (the answer cut off half-way, then the connection closed) or "missing-part" (a
        batch answer lacking its last part; only batch envelopes count then). The request
        is served (and saved) first. `count` None: stop.
        """
        with self.lock:
            self._garble.arm(count, times, kind)

    def thin_pages(self, cap=None, empty=False):
        """List pages of at most `cap` items whatever maxResults asks, and (`empty`) an empty
        page carrying a nextPageToken before each page of items; thin_pages() ends both."""
        with self.lock:
            self._thin = ThinPages(cap, empty) if cap or empty else None

    @property
    def odd_shapes(self):
        """True while answers omit empty and false fields, upper-case address domains and add unknown fields."""
        return self._shapes.on

    @odd_shapes.setter
    def odd_shapes(self, on):
        with self.lock:
            self._shapes.on = bool(on)

    def stats(self):
        """Counters since start (or reset_calls), for benchmarks.

        calls: API calls seen, batch parts included; accepted: those the limits let through
        (whatever the answer); rejected_quota / rejected_concurrency / rejected_outage: those
        refused by a limit (all parts of a refused envelope); rejected: their sum;
        failed_injected: fail_next / fail_rate; http_requests and batches: API requests and
        envelopes; answers_delayed / answers_dropped / answers_garbled; token_requests / token_failures (injected).
        """
        with self.lock:
            counts = dict.fromkeys(STATS, 0)
            counts.update(self._stats)
        counts["rejected"] = sum(v for k, v in counts.items() if k.startswith("rejected_"))
        return counts

    # HTTP ----------------------------------------------------------------------------------------
    def handle_http(self, method, target, headers, body):
        """Answer one HTTP request: (status, headers, body bytes), or None to hang up unanswered."""
        split = urllib.parse.urlsplit(target)
        if split.path in BATCH_PATHS and method == "POST":
            return self._api_request(split, method, headers, body, BATCH_PATHS[split.path])
        if routing.api_of(split.path)[0] is not None:
            return self._api_request(split, method, headers, body)
        if self.latency:
            time.sleep(self.latency)
        if split.path == "/token" and method == "POST":
            return self._token(headers, body)
        if split.path in oauth.AUTH_PATHS and method == "GET":
            return self._authorization_page(split.query)
        if split.path == oauth.APPROVAL_PATH and method == "POST":
            return self._approval(body)
        if split.path in oauth.REVOKE_PATHS and method in ("GET", "POST"):
            return self._revoke(split.query, body)
        return json_answer(404, errors.ApiError(404, "notFound", "Not Found").body())

    # API requests ----------------------------------------------------------------------------------
    def _api_request(self, split, method, headers, body, batch_api=False):
        """A single call or (batch_api not False) a batch envelope: admit, serve, then answer."""
        with self.lock:
            self._stats["http_requests"] += 1
            if batch_api is not False:
                self._stats["batches"] += 1
            try:
                if self._outage.active():
                    raise errors.backend_error()
                self._in_flight.enter()
                refusal = None
            except errors.ApiError as refused:
                refusal = self._refuse(refused, split, method, headers, body, batch_api)
        if self.latency:
            time.sleep(self.latency)
        if refusal is not None:
            return refusal
        try:
            writes_before = self._writes
            if batch_api is not False:
                answer = self._batch(headers, body, batch_api)
            else:
                answer = self._api_call(method, split.path, split.query, headers.get("Authorization"), body, False)
            answer = self._spoil(answer)
            if self.delay_only_writes and self._writes == writes_before:
                return answer  # a read: answered at once
            return self._deliver(answer)
        finally:
            with self.lock:
                self._in_flight.leave()

    def _refuse(self, refused, split, method, headers, body, batch_api):
        """Answer a request the outage or the concurrency cap turned away (lock held)."""
        cause = "rejected_outage" if refused.code == 503 else "rejected_concurrency"
        if batch_api is False:
            count = 1
            query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            self._record_call(method, split.path, query, refused.code, False)
        else:
            try:
                count = len(batch.parse(headers.get("Content-Type"), body))
            except errors.ApiError:
                count = 1
            self.batches.append({"parts": count, "status": refused.code, "time": time.time()})
            self._stats["calls"] += count
            log.info("POST batch (%d parts) -> %d %s", count, refused.code, refused.reason)
        self._stats[cause] += count
        return json_answer(refused.code, refused.body())

    def _spoil(self, answer):
        """The answer as garble_answers_after spoils it (a missing batch part is left out in _batch)."""
        with self.lock:
            if self._garble.kind == "missing-part" or not self._garble.hit():
                return answer
            self._stats["answers_garbled"] += 1
            kind = self._garble.kind
        log.info("answer garbled: %s", kind)
        status, headers, payload = answer
        if kind == "truncated":
            return status, headers, Truncated(payload)
        return (200 if kind == "html-200" else 502), {"Content-Type": "text/html; charset=UTF-8"}, HTML_PAGE

    def _deliver(self, answer):
        """The request is served and saved; its answer may now come late, or never."""
        with self.lock:
            dropped = self._drops.hit()
            if dropped:
                self._stats["answers_dropped"] += 1
            elif self.answer_delay:
                self._stats["answers_delayed"] += 1
        if self.answer_delay:
            time.sleep(self.answer_delay)
        if dropped:
            log.info("answer dropped: closing the connection without a response")
            return None
        return answer

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
                return self._html(refused.status, consent.error_page(refused.status, refused.error,
                                                                     refused.description))
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
                return self._html(refused.status, consent.error_page(refused.status, refused.error,
                                                                     refused.description))
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

    def _batch(self, headers, body, api):
        try:
            parts = batch.parse(headers.get("Content-Type"), body)
        except errors.ApiError as refused:
            log.info("POST batch -> %d", refused.code)
            return json_answer(refused.code, refused.body())
        order = list(range(len(parts)))
        random.shuffle(order)  # Google runs the parts of a batch in any order
        answers = []
        for index in order:
            part = parts[index]
            split = urllib.parse.urlsplit(part.target)
            authorization = part.headers.get("authorization") or headers.get("Authorization")
            status, part_headers, payload = self._api_call(part.method, split.path, split.query,
                                                           authorization, part.body, True, api)
            answers.append((batch.response_content_id(part.content_id, index + 1),
                            status, part_headers, payload))
        with self.lock:
            if answers and self._garble.kind == "missing-part" and self._garble.hit():
                self._stats["answers_garbled"] += 1
                log.info("answer garbled: batch part %s left out", answers.pop()[0])
            self.batches.append({"parts": len(parts), "status": 200, "time": time.time()})
            self._save()
        log.info("POST batch (%d parts) -> 200", len(parts))
        content_type, data = batch.render(answers)
        return 200, {"Content-Type": content_type}, data

    def _api_call(self, method, path, query_string, authorization, body, in_batch, batch_api=None):
        query = dict(urllib.parse.parse_qsl(query_string, keep_blank_values=True))
        render, extra_headers = None, {}
        try:
            status, payload, render = self._run(method, path, query, authorization, body, in_batch, batch_api)
        except errors.ApiError as refused:
            status, payload, extra_headers = refused.code, refused.body(), refused.headers
        except Exception:  # a bug here must still answer, and show in the log
            log.exception("emulator failure on %s %s", method, path)
            status, payload = 500, errors.ApiError(500, "internalError", "Internal error encountered.").body()
        with self.lock:
            self._record_call(method, path, query, status, in_batch, body)
        rendered = render(payload, query) if render and status == 200 else None
        if rendered is not None:
            return 200, dict(rendered[0], Vary="Origin, X-Origin, Referer"), rendered[1]
        answer = json_answer(status, payload, query.get("prettyPrint", "true") != "false")
        if status == 401:
            answer[1]["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
        answer[1].update(extra_headers)
        return answer

    def _record_call(self, method, path, query, status, in_batch, body=b""):
        decoded = urllib.parse.unquote(path)
        self.calls.append({"method": method, "path": decoded, "query": query, "status": status,
                           "batch": in_batch, "time": time.time(), "body": _recorded_body(body)})
        if method != "GET":
            self._writes += 1
        self._stats["calls"] += 1
        log.info("%s%s %s -> %d", "  [batch] " if in_batch else "", method, decoded, status)

    def _run(self, method, path, query, authorization, body, in_batch, batch_api=None):
        api, relative = routing.api_of(path)
        if api is None or (batch_api is not None and api != batch_api):
            raise errors.ApiError(404, "notFound", "Not Found")
        route, params = routing.match(method, relative, api)
        with self.lock:
            subject = self._authorize(route, authorization)
            try:
                self._quota.charge(subject)
            except errors.ApiError:
                self._stats["rejected_quota"] += 1
                raise
            self._stats["accepted"] += 1
            self._inject_failure()
            if self._failing_objects and any(key in urllib.parse.unquote(path).lower() for key in self._failing_objects):
                self._stats["failed_injected"] += 1
                raise errors.injected(*self._object_failure)
        routing.check_params(route, query)
        selection = fields.parse(query["fields"]) if query.get("fields") else None
        if selection is not None and route.schema:
            fields.check(selection, route.schema, query["fields"], routing.APIS[api][1])
        request = routing.Request(self.directory, method, params, query,
                                  json_body(body) if route.body else None, self._propagation)
        with self.lock:
            thin = paging.THIN.set(self._thin)
            try:
                status, payload = route.handler(request)
            finally:
                paging.THIN.reset(thin)
                if not in_batch:  # a batch saves once, at its end
                    self._save()
        if payload is not None and selection is not None:
            payload = fields.apply(selection, payload)
        if api == "directory":
            payload = self._shapes.reshape(payload)
        return status, payload, route.render

    def _authorize(self, route, authorization):
        token = self.authority.lookup(authorization)
        if token is None:
            raise errors.unauthenticated()
        if not token.scopes & route.scopes():
            raise errors.insufficient_scopes()
        user = self.directory.find_user(token.subject) if token.subject else None
        if user is None or not user.get("isAdmin") or user.get("suspended"):
            raise errors.forbidden()
        return user["id"]  # quota is per user: one account's window, whichever address the token names

    def _inject_failure(self):
        if self._failures:
            self._stats["failed_injected"] += 1
            raise errors.injected(*self._failures.popleft())
        if self.fail_rate and random.random() < self.fail_rate:
            self._stats["failed_injected"] += 1
            raise errors.injected(503, "backendError")

    # persistence -------------------------------------------------------------------------------
    def _seed(self, handler, body, params=None):
        status, resource = handler(routing.Request(self.directory, "POST", params or {}, {}, body))
        return resource

    def _save(self, force=False):
        if self.state_file and (force or self.directory.changed or not os.path.exists(self.state_file)):
            save_json(self.state_file, {"directory": self.directory.to_dict(),
                                        "authority": self.authority.to_dict(),
                                        "oauth": self.webflow.to_dict()})
        self.directory.changed = False

    def _load(self, path):
        with open(path, encoding="utf-8") as source:
            data = json.load(source)
        self.directory = Directory.from_dict(data["directory"])
        self.authority.load(data.get("authority", {}))
        self.webflow.load(data.get("oauth", {}))


__all__ = ["Emulator", "DIRECTORY_SCOPES"]
