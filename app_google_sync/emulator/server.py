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

import contextlib
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

from . import (  # noqa: F401  (routes)
    api_datatransfer,
    api_domains,
    api_groups,
    api_licensing,
    api_members,
    api_orgunits,
    api_photos,
    api_schemas,
    api_security,
    api_settings,
    api_users,
    batch,
    consent,
    errors,
    fields,
    oauth,
    paging,
    password_store,
    resources,
    routing,
)
from .auth import DIRECTORY_SCOPES, Authority
from .fault_controls import FaultControls
from .faults import HTML_PAGE, Countdown, Garble, OddShapes, Outage, TokenFailure
from .httpd import Handler, Truncated, is_loopback, json_answer, json_body
from .identity import Identity
from .limits import InFlight, Quota
from .propagation import Propagation
from .seeding import Seeding
from .state import Directory, save_json

log = logging.getLogger(__name__)

# Batch endpoint -> the API its parts must call (None: any).
BATCH_PATHS = {"/batch/admin/directory_v1": "directory", "/batch/groupssettings/v1": "groupssettings", "/batch": None}


def _recorded_body(body):
    """The JSON body a call sent, as tests inspect it; a password never kept."""
    try:
        value = json.loads(body.decode("utf-8")) if body and body.strip() else None
    except ValueError:
        return None
    if isinstance(value, dict) and "password" in value:
        value["password"] = "(not kept)"
    return value


class Emulator(Identity, Seeding, FaultControls):
    """A local Admin SDK Directory API v1 with its OAuth token endpoint (thread-safe)."""

    def __init__(
        self,
        domain="example.com",
        admin_email="admin@example.com",
        quota_per_window=None,
        quota_window=60.0,
        latency=0.0,
        fail_rate=0.0,
        state_file=None,
        admin_password=None,
        quota_status=403,
        max_concurrent=None,
        propagation_delay=0.0,
        answer_delay=0.0,
        outage=False,
        clock=time.monotonic,
    ):
        self.clock = clock  # quota windows, outage_for and propagation run on it (tests pass a fake)
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
        self.calls = []  # one dict per Directory API call (batch parts included)
        self.token_calls = []  # one dict per token request
        self.batches = []  # one dict per batch envelope
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
                raise ValueError(
                    "%s holds the account of %s, not %s" % (state_file, self.directory.primary_domain, domain)
                )
        self.admin_email = admin_email.lower()
        if not self.directory.in_our_domains(self.admin_email):
            raise ValueError("admin %s is not in the domain %s" % (admin_email, self.domain))
        if self.directory.find_user(self.admin_email) is None:
            self._create_admin(admin_password)

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
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="google-sync-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        for connection in list(self.open_connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._server = self._thread = None

    @property
    def base_url(self):
        host, port = self._server.server_address[:2]
        return ("http://[%s]:%d/" if ":" in host else "http://%s:%d/") % (host, port)

    @property
    def domain(self):
        return self.directory.primary_domain

    @property
    def customer_id(self):
        return self.directory.customer_id

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
            status, part_headers, payload = self._api_call(
                part.method, split.path, split.query, authorization, part.body, True, api
            )
            answers.append((batch.response_content_id(part.content_id, index + 1), status, part_headers, payload))
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
        self.calls.append(
            {
                "method": method,
                "path": decoded,
                "query": query,
                "status": status,
                "batch": in_batch,
                "time": time.time(),
                "body": _recorded_body(body),
            }
        )
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
            if self._failing_objects and any(
                key in urllib.parse.unquote(path).lower() for key in self._failing_objects
            ):
                self._stats["failed_injected"] += 1
                raise errors.injected(*self._object_failure)
        routing.check_params(route, query)
        selection = fields.parse(query["fields"]) if query.get("fields") else None
        if selection is not None and route.schema:
            fields.check(selection, route.schema, query["fields"], routing.APIS[api][1])
        request = routing.Request(
            self.directory, method, params, query, json_body(body) if route.body else None, self._propagation
        )
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

    def _save(self, force=False):
        if self.state_file and (force or self.directory.changed or not os.path.exists(self.state_file)):
            save_json(
                self.state_file,
                {
                    "directory": self.directory.to_dict(),
                    "authority": self.authority.to_dict(),
                    "oauth": self.webflow.to_dict(),
                },
            )
        self.directory.changed = False

    def _load(self, path):
        with open(path, encoding="utf-8") as source:
            data = json.load(source)
        self.directory = Directory.from_dict(data["directory"])
        self.authority.load(data.get("authority", {}))
        self.webflow.load(data.get("oauth", {}))


__all__ = ["Emulator", "DIRECTORY_SCOPES"]
