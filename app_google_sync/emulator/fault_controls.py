"""The knobs a test turns to make the emulator behave as Google does on a bad day: failures, quota and its
window, concurrency caps, propagation delay, outages, token failures, lost or garbled answers, thin pages,
odd shapes; and what it counted. A part of ``Emulator``; the faults themselves are in faults.py.
"""

from .faults import ThinPages

# The counters of stats(), all present even at zero.
STATS = (
    "http_requests",
    "batches",
    "calls",
    "accepted",
    "rejected_quota",
    "rejected_concurrency",
    "rejected_outage",
    "failed_injected",
    "answers_delayed",
    "answers_dropped",
    "answers_garbled",
    "token_requests",
    "token_failures",
)


class FaultControls:
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
