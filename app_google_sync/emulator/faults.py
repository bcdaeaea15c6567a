"""Trouble that is not one call's answer: an outage, a failing token endpoint, lost answers.

Each is a switch flipped while the server runs; callers hold the emulator's lock.
"""

# What Google's token endpoint answers when it refuses or fails, by HTTP status.
# google-auth raises RefreshError at once for 400 and 401, and retries 500 and 503 itself
# (three attempts with back-off) before raising RefreshError.
TOKEN_FAILURES = {
    400: ("invalid_grant", "Invalid grant: account not found"),
    401: ("invalid_client", "The OAuth client was not found."),
    500: ("internal_failure", "Backend Error"),
    503: ("temporarily_unavailable", "The service is currently unavailable."),
}


class Outage:
    """The API is down: switched on by hand, or for a time measured on the emulator's clock."""

    def __init__(self, clock):
        self.clock = clock
        self.switched = False
        self.until = None

    def active(self):
        return self.switched or (self.until is not None and self.clock() < self.until)

    def switch(self, on):
        self.switched = bool(on)
        if not on:
            self.until = None

    def last(self, seconds):
        self.until = self.clock() + seconds


class Countdown:
    """Let `spared` events pass, then hit the next `times` of them (None: every one, until disarmed)."""

    def __init__(self):
        self.spared = None  # None: disarmed
        self.times = None

    @property
    def armed(self):
        return self.spared is not None

    def arm(self, spared, times=None):
        if spared is not None and (spared < 0 or (times is not None and times < 1)):
            raise ValueError("counts must be positive")
        self.spared, self.times = spared, times

    def hit(self):
        """Is this event one to hit? (Counts it.)"""
        if self.spared is None:
            return False
        if self.spared > 0:
            self.spared -= 1
            return False
        if self.times is not None:
            self.times -= 1
            if self.times == 0:
                self.spared = self.times = None
        return True


class TokenFailure(Countdown):
    """The token endpoint answering an OAuth error instead of a token."""

    def __init__(self):
        super().__init__()
        self.status = 400

    def arm(self, spared, times=None, status=400):
        if status not in TOKEN_FAILURES:
            raise ValueError("token failure status must be one of %s" % ", ".join(map(str, TOKEN_FAILURES)))
        super().arm(spared, times)
        self.status = status

    def answer(self):
        """(status, error, description) of a failed token request."""
        return (self.status, *TOKEN_FAILURES[self.status])


# Answers a Google-compatible endpoint (or a proxy in front of it) may give that are not well-formed
# API answers; see Emulator.garble_next.
GARBLES = ("html", "html-200", "truncated", "missing-part")

HTML_PAGE = (
    b"<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 502 (Server Error)!!1</title>"
    b"<p><b>502.</b> <ins>That's an error.</ins><p>The server encountered a temporary error "
    b"and could not complete your request.<p>Please try again in 30 seconds.</html>"
)


class Garble(Countdown):
    """Whole answers spoiled on the way: an HTML page instead of JSON (with 502, or with 200 as a
    captive proxy sends), an answer cut short mid-body, or a batch answer lacking one of its parts."""

    def __init__(self):
        super().__init__()
        self.kind = "html"

    def arm(self, spared, times=None, kind="html"):
        if kind not in GARBLES:
            raise ValueError("garble kind must be one of %s" % ", ".join(GARBLES))
        super().arm(spared, times)
        self.kind = kind


class ThinPages:
    """Google may return fewer items than maxResults, and pages that are empty yet carry a nextPageToken."""

    def __init__(self, cap=None, empty=False):
        self.cap = cap  # most items a list page holds, whatever maxResults asks (None: as asked)
        self.empty = empty  # each page of items is preceded by an empty page with a token


class OddShapes:
    """Google omits what is empty or false (``suspended``, ``isAdmin``, ``aliases``, ``name.fullName``
    under some field masks), answers addresses in the letter case they were created with, and adds
    fields clients do not know. When on, every API answer is reshaped so: empty and false values
    dropped, ``fullName`` dropped, the domain part of each address upper-cased, an unknown field added."""

    ADDRESS_KEYS = ("primaryEmail", "email")

    def __init__(self):
        self.on = False

    def reshape(self, value):
        if not self.on:
            return value
        return self._reshape(value)

    def _reshape(self, value):
        if isinstance(value, list):
            return [self._reshape(item) for item in value]
        if not isinstance(value, dict):
            return value
        shaped = {}
        for key, item in value.items():
            if key == "fullName" or item is False or item in ("", [], {}):
                continue
            if key in self.ADDRESS_KEYS and isinstance(item, str) and "@" in item:
                local, _, domain = item.partition("@")
                item = local + "@" + domain.upper()
            shaped[key] = self._reshape(item)
        if "kind" in shaped:
            shaped["futureField"] = {"unknownToClients": True}
        return shaped
