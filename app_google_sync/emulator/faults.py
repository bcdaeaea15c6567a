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
