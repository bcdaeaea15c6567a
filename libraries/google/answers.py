"""What one of Google's answers means: the only place that reads status numbers and reasons.

Every failed request becomes a TargetError with a kind. The change types, the executor, the reads and the
metrics decide on kinds, never on numbers, so "a 412 is sometimes 'creation is not complete'" or "a 403 is
sometimes only 'too fast'" is said once, here. Google's documented errors: the Directory API's error
reference (400 invalid, 403 forbidden, 403 userRateLimitExceeded / quotaExceeded, 404 notFound,
409 duplicate, 412 conditionNotMet, 429 rateLimitExceeded, 503 backendError).
"""

from __future__ import annotations

from enum import StrEnum

from ..core.errors import GoogleSyncError

QUOTA_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded"})
UNREACHABLE_RETRIES = 2  # an endpoint that does not answer at all is retried briefly, not for minutes


class ErrorKind(StrEnum):
    UNREACHABLE = "unreachable"  # no answer, or one that is not the API's (status 0): it may have been applied
    TRANSIENT = "transient"  # Google failed (5xx, backendError): it passes
    QUOTA = "quota"  # too fast (429, 403 rate limits): the pacer's business, not a failure of the change
    NOT_READY = "not visible yet"  # "User creation is not complete": a new account is still being made
    CONFLICT = "conflict"  # 409: the object exists already
    NOT_FOUND = "not found"  # 404 (for an object made in this run, perhaps only not visible yet: the executor knows)
    PRECONDITION = "precondition"  # 412: a condition of the object does not hold (a licence held or none left)
    DENIED = "denied"  # 401, 403: a scope, the delegation, or an object the administrator may not manage
    INVALID = "invalid"  # 400 and any other refusal: the data sent is wrong


def classify(status: int, reason: str, message: str) -> ErrorKind:
    if "creation is not complete" in message.lower():  # Google sends it as 412, 400 or 503
        return ErrorKind.NOT_READY
    if status == 0:
        return ErrorKind.UNREACHABLE
    if status == 429 or reason in QUOTA_REASONS:
        return ErrorKind.QUOTA
    if status >= 500 or reason == "backendError":
        return ErrorKind.TRANSIENT
    return _BY_STATUS.get(status, ErrorKind.INVALID)


_BY_STATUS = {
    409: ErrorKind.CONFLICT,
    404: ErrorKind.NOT_FOUND,
    412: ErrorKind.PRECONDITION,
    401: ErrorKind.DENIED,
    403: ErrorKind.DENIED,
}


class TargetError(GoogleSyncError):
    """Google (or a compatible endpoint) refused or failed a request; ``kind`` says what that means."""

    def __init__(self, message: str, status: int = 0, reason: str = "", retry_after: float = 0.0):
        super().__init__(message)
        self.status = status  # kept for the message and the log; decisions read ``kind``
        self.reason = reason
        self.retry_after = retry_after  # seconds the answer's Retry-After asked to wait (0: it did not say)
        self.kind = classify(status, reason, message)

    def named(self, message: str) -> TargetError:
        """The same answer, told with more context (what was being read, what to do)."""
        return TargetError(message, self.status, self.reason, self.retry_after)

    @property
    def quota(self) -> bool:
        return self.kind is ErrorKind.QUOTA

    @property
    def unavailable(self) -> bool:
        """Google did not answer: unreachable, or failing itself (not a refusal, not a quota). A push queue that
        sees it backs off as a whole rather than push by push."""
        return self.kind in (ErrorKind.UNREACHABLE, ErrorKind.TRANSIENT)

    @property
    def maybe_applied(self) -> bool:
        """The request may have taken effect although no success came back (a lost answer, a server failing late)."""
        return self.unavailable

    def retriable(self, attempt: int = 0) -> bool:
        """Worth sending again: it passes by itself (an endpoint that never answers only briefly)."""
        if self.kind is ErrorKind.UNREACHABLE:
            return attempt < UNREACHABLE_RETRIES
        if self.kind is ErrorKind.PRECONDITION:
            return (
                self.reason == "conditionNotMet"
            )  # Google's "the object changed meanwhile": as it stands now, it may hold
        return self.kind in (ErrorKind.TRANSIENT, ErrorKind.QUOTA, ErrorKind.NOT_READY)

    @property
    def denied_access(self) -> bool:
        """A scope or the delegation is missing, or the object is outside what the administrator may manage."""
        return self.kind is ErrorKind.DENIED and self.reason in ("forbidden", "insufficientPermissions")

    def metric_label(self) -> str:
        """A small set of labels for the metrics: quota, unreachable, or Google's reason."""
        if self.kind in (ErrorKind.QUOTA, ErrorKind.UNREACHABLE):
            return self.kind.value
        return self.reason or str(self.status)
