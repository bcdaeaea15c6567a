"""Google's limits on API calls: the per-user quota window and the concurrent-requests cap.

Callers hold the emulator's lock. Times come from the emulator's clock, so tests can move
time by hand instead of sleeping.
"""

from collections import deque

from . import errors

QUOTA_STATUSES = (403, 429)


class Quota:
    """Calls allowed per sliding window, counted per delegated subject.

    Google's default is "2,400 queries per minute per user per project": the user is the
    account the token acts for, so two admins impersonated by one key have a window each.
    Refused calls are not counted (they are not served).
    """

    def __init__(self, clock, per_window=None, window=60.0, status=403):
        self.clock = clock
        self.per_window = per_window  # None: unlimited
        self.window = window
        self.status = status
        self._times = {}  # subject -> deque of call times in the window

    @property
    def status(self):
        return self._status

    @status.setter
    def status(self, value):
        if value not in QUOTA_STATUSES:
            raise ValueError("quota status must be 403 (userRateLimitExceeded) or 429 (rateLimitExceeded)")
        self._status = value

    def charge(self, subject):
        """Count one call for `subject`; ApiError (403 or 429) if its window is full."""
        if self.per_window is None:
            return
        now = self.clock()
        times = self._times.setdefault(subject, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.per_window:
            raise errors.quota_exceeded(self.status)
        times.append(now)


class InFlight:
    """HTTP requests being served; past `limit` at once, Google answers 403 quotaExceeded."""

    def __init__(self, limit=None):
        self.limit = limit  # None: unlimited
        self.count = 0

    def enter(self):
        """Take a slot; ApiError if all are taken (the refused request takes none)."""
        if self.limit is not None and self.count >= self.limit:
            raise errors.too_many_concurrent()
        self.count += 1

    def leave(self):
        self.count -= 1
