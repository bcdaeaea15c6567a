"""The codes that travel between layers: what a notice is about, and how a run ended.

The console and the command line decide on these codes, never on the wording of a
message, so a message can be reworded (or translated) without changing behaviour.
Both are ``StrEnum``: they compare equal to, store as and serialise to their plain
string value, so the JSON output, the state database and older callers keep working.
"""

from __future__ import annotations

from enum import StrEnum


class NoticeCode(StrEnum):
    """Why the planner reports an object (a ``Notice`` carries one)."""

    # users
    USER_INVALID = "user_invalid"  # skipped: a name or address Google would refuse
    ADDRESS_SHARED = "address_shared"  # skipped: several directory users have one address
    ACCOUNT_TAKEN = "account_taken"  # skipped: its Google account already belongs to another directory user
    PASSWORD_NOT_SYNCED = "password_not_synced"  # kept, but its password cannot go to Google
    ALIASES_OUTSIDE_DOMAIN = "aliases_outside_domain"
    RENAME_BLOCKED = "rename_blocked"  # the new address belongs to another account
    USER_LOCKED = "user_locked"  # Google Apps on, locked in the directory, no account in Google: not created
    SUSPENDED_IN_GOOGLE = "suspended_in_google"  # suspended by someone else; left suspended
    NOT_MANAGED = "not_managed"  # an account with a directory user's address that this tool does not manage
    ADMIN_PROTECTED = "admin_protected"  # an administrator that would be suspended; left active
    GOOGLE_ONLY = "google_only"  # exists only in Google (unmanaged_accounts = ignore)
    ADMIN_WITHOUT_LOCAL_USER = "admin_without_local_user"  # an administrator no local user synchronizes
    ADMIN_LOCAL_USER_LOCKED = "admin_local_user_locked"  # ... whose local user is locked in the directory
    # the whole profile
    CUSTOM_FIELD_UNKNOWN = "custom_field_unknown"  # [custom_attributes] names a field Google does not have
    CUSTOM_VALUE_INVALID = "custom_value_invalid"  # a value the field's type refuses: Google keeps its own
    MANAGER_NOT_SYNCHRONIZED = "manager_not_synchronized"  # the manager is not a synchronized user
    PHOTO_REJECTED = "photo_rejected"  # not an image type Google takes, or too large
    TRANSFER_NO_RECEIVER = "transfer_no_receiver"  # [offboarding]: a leaver's data has nobody to go to
    # groups
    GROUP_INVALID = "group_invalid"  # skipped: a name or address Google would refuse
    GROUP_UNSYNCHRONIZED = "group_unsynchronized"  # removed from the directory or the selection
    NESTED_CYCLE = "nested_cycle"
    NESTED_NOT_SYNCHRONIZED = "nested_not_synchronized"
    GROUP_NOT_IN_GOOGLE_YET = "group_not_in_google_yet"
    MEMBERS_NOT_IN_SCOPE = "not_in_scope"  # members without the Google Apps option
    MEMBERS_LOCKED = "locked"  # members locked in the directory
    MEMBERS_SKIPPED = "members_skipped"  # members skipped for their own problem (reported on each)
    MEMBERS_UNKNOWN = "members_unknown"  # memberUid values that name no user to synchronize (absent or reserved)
    # undo of a run
    UNDO_NOT_RECORDED = "undo_not_recorded"  # a result stored without its change (older version, reconciled)
    UNDO_IMPOSSIBLE = "undo_impossible"  # a password, an alias, a created group: reported, left
    UNDO_CHANGED_SINCE = "undo_changed_since"  # the object changed after the run: left, not overwritten
    UNDO_ALREADY_DONE = "undo_already_done"  # already as it was before the run
    UNDO_GONE = "undo_gone"  # the object no longer exists in Google


# Notices that mean "this object is left alone": the console shows such an object as skipped.
SKIP_CODES = frozenset(
    {NoticeCode.USER_INVALID, NoticeCode.ADDRESS_SHARED, NoticeCode.ACCOUNT_TAKEN, NoticeCode.GROUP_INVALID}
)
# Google accounts no local user stands for: what the console's Import page offers to create.
UNOWNED_CODES = frozenset({NoticeCode.GOOGLE_ONLY, NoticeCode.ADMIN_WITHOUT_LOCAL_USER})


class RunOutcome(StrEnum):
    """How a run (or a preview) ended, as the history, the console and the exit codes see it."""

    RUNNING = "running"
    IN_SYNC = "in_sync"  # nothing to change
    PENDING = "pending"  # a preview found changes
    REFUSED = "refused"  # a safety limit stopped it; nothing written
    APPLIED = "applied"  # every change applied
    HELD = "held"  # a push applied what it could; a safety limit held the rest for approval
    PARTIAL = "partial"  # some changes failed, the rest applied
    FAILED = "failed"  # a fatal error
    CHANGED = "changed"  # the plan differed from the one previewed; nothing written
    INTERRUPTED = "interrupted"  # its process died mid-run
    LOCKED = "locked"  # another run held the lock (console only; never stored)

    @property
    def label(self) -> str:
        """How people read it: the console, the mail and the health line say these words."""
        return _OUTCOME_WORDS[self][0]

    @property
    def tone(self) -> str:
        """ok, warn, error or info: the one colour of this outcome wherever it is shown."""
        return _OUTCOME_WORDS[self][1]

    @property
    def failed(self) -> bool:
        """A run that did not do what it was asked (notifications, health and metrics agree on this)."""
        return self in FAILED_OUTCOMES

    @property
    def succeeded(self) -> bool:
        return self in SUCCEEDED_OUTCOMES


# Sets of outcomes, which a stored outcome (a plain string) can be looked up in as it is.
FAILED_OUTCOMES = frozenset({RunOutcome.FAILED, RunOutcome.PARTIAL, RunOutcome.REFUSED, RunOutcome.INTERRUPTED})
SUCCEEDED_OUTCOMES = frozenset({RunOutcome.APPLIED, RunOutcome.IN_SYNC})
_OUTCOME_WORDS = {
    RunOutcome.IN_SYNC: ("In step", "ok"),
    RunOutcome.PENDING: ("Changes pending", "warn"),
    RunOutcome.APPLIED: ("Applied", "ok"),
    RunOutcome.HELD: ("Held for approval", "warn"),
    RunOutcome.PARTIAL: ("Some failed", "error"),
    RunOutcome.FAILED: ("Failed", "error"),
    RunOutcome.REFUSED: ("Refused", "error"),
    RunOutcome.CHANGED: ("Plan changed", "warn"),
    RunOutcome.RUNNING: ("Running", "info"),
    RunOutcome.INTERRUPTED: ("Interrupted", "error"),
    RunOutcome.LOCKED: ("Another run is in progress", "warn"),
}


def outcome_of(value: str) -> RunOutcome | None:
    """A stored outcome read back; None for a value this release does not know (a newer release wrote it)."""
    try:
        return RunOutcome(value)
    except ValueError:
        return None
