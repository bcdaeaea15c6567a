"""One small hierarchy, so each boundary can catch what it knows how to explain."""


class GoogleSyncError(Exception):
    """Base of every error this tool raises on purpose."""


class ConfigError(GoogleSyncError):
    """A setting is missing or wrong; the message names the key and the fix."""


class DatabaseTooNew(ConfigError):
    """The state database was written by a newer release: refused, never modified (not a mistake in the file)."""


class SourceError(GoogleSyncError):
    """The directory could not be read completely. Nothing may be suspended."""


class UnsafePlan(GoogleSyncError):
    """The plan breaks a safety limit; applying it needs --force."""


class PlanChanged(GoogleSyncError):
    """What the administrator saw and confirmed changed before it could be applied; nothing was written."""


class RunLocked(GoogleSyncError):
    """Another synchronization is running."""
