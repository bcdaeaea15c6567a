"""One small hierarchy, so each boundary can catch what it knows how to explain."""


class GoogleSyncError(Exception):
    """Base of every error this tool raises on purpose."""


class ConfigError(GoogleSyncError):
    """A setting is missing or wrong; the message names the key and the fix."""


class DatabaseTooNew(ConfigError):
    """The state database was written by a newer release: refused, never modified (not a mistake in the file)."""


class SourceError(GoogleSyncError):
    """The directory could not be read completely. Nothing may be suspended."""


class TargetError(GoogleSyncError):
    """Google (or a compatible endpoint) refused or failed a request."""

    def __init__(self, message: str, status: int = 0, reason: str = "", retry_after: float = 0.0):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after  # seconds the answer's Retry-After asked to wait (0: it did not say)

    @property
    def creation_pending(self) -> bool:
        """Google's "User creation is not complete" (a 412, among others): the account is still being made; it passes."""
        return "creation is not complete" in str(self).lower()


class UnsafePlan(GoogleSyncError):
    """The plan breaks a safety limit; applying it needs --force."""


class PlanChanged(GoogleSyncError):
    """What the administrator saw and confirmed changed before it could be applied; nothing was written."""


class RunLocked(GoogleSyncError):
    """Another synchronization is running."""
