"""E-mail when synchronization needs attention: a summary, never a flood.

Three parts, kept apart:
- events and messages are built by pure functions (runs, results and queued pushes in, an
  ``EmailMessage`` out), so what a message says is easy to test and never holds a secret;
- ``SmtpSender`` hands a message to an SMTP server (``smtplib``), with STARTTLS and a login when asked;
- ``Notifier`` looks at what happened since it last looked (runs that finished, pushes failing for an
  hour) and sends at most one message of each kind per ``min_interval``; what arrives meanwhile waits
  and goes in the next. Its cursor and throttle live in the state database's values table, so the
  worker, the console and the command line share them.
A mail server that cannot be reached is logged; it never breaks a run.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..core.codes import FAILED_OUTCOMES, RunOutcome
from ..core.errors import GoogleSyncError
from ..core.model import Offboarded
from ..settings import config
from ..settings.config import NotifySettings, Settings
from ..settings.config_schema import duration_text
from ..state.store import HeldChange, QueuedPush, RunRecord, Store, now
from .monitoring import PUSH_STUCK_AFTER, aware, run_kind, waiting_since

log = logging.getLogger(__name__)

FAILURES, PUSHES, CHANGES = "failures", "pushes", "changes"  # the kinds, each throttled on its own
KINDS = (FAILURES, PUSHES, CHANGES)
CURSOR_KEY = "notify.cursor"  # {"after": id, "done": [ids]}: runs already looked at
REPORTED_PUSHES_KEY = "notify.reported_pushes"  # stuck pushes already told about
REPORTED_HELD_KEY = "notify.reported_held"  # held changes already told about
REPORTED_TRANSFERS_KEY = "notify.reported_transfers"  # failed [offboarding] transfers already told about (id@attempt)
THROTTLE_KEY = "notify.throttle.{kind}"  # {"sent_at": iso, "pending": [events], "more": n}
RUNS_LOOKED_AT = 500  # far more than finish between two looks (the worker looks every 15 s)
NEWS_WINDOW = timedelta(days=1)  # runs started longer ago are never told
MAX_PENDING = 50  # events kept for the next message; beyond, only counted
MAX_OBJECTS = 20  # objects listed per run
SMTP_TIMEOUT = 15.0

FIXES = {
    RunOutcome.FAILED: "Fix the cause named above, then run `google-sync sync` (or Synchronize now in the console).",
    RunOutcome.REFUSED: "Review the plan with `google-sync test` (or Test synchronization); if it is right, apply it with "
    "`google-sync sync --force` (or confirm it in the console).",
    RunOutcome.PARTIAL: "Each failed object says why; correct it in the directory (or in Google). The next run tries it again.",
    RunOutcome.INTERRUPTED: "Nothing is lost: run `google-sync sync` again; it confirms what the interrupted run had sent.",
    RunOutcome.HELD: "Review them with `google-sync test` (or the console's Held changes): if the directory is right, apply them "
    "with `google-sync sync --force` (or Apply held changes); if it was a mistake, fix the directory and they disappear.",
    "transfer": "The transfer is tried again later by itself (`google-sync leavers` shows where it stands); if the receiver "
    "left or cannot receive data, set [offboarding] transfer_fallback to an active account.",
    "push": "The push is tried again until it goes through; the last error says what stops it. "
    "`google-sync check` tests the connection to the directory and to Google.",
}


class NotifyError(GoogleSyncError):
    """A message could not be sent; the text says why and which setting to look at."""


# -- events: what a message reports -------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    kind: str
    title: str
    lines: tuple[str, ...] = ()
    fix: str = ""
    link: str = ""

    @classmethod
    def from_data(cls, data: dict) -> Event:
        return cls(data["kind"], data["title"], tuple(data.get("lines", ())), data.get("fix", ""), data.get("link", ""))


def run_link(console_url: str, run_id: int) -> str:
    return f"{console_url}history/{run_id}" if console_url else ""


def _when(moment: datetime | None) -> str:
    return f"{aware(moment):%Y-%m-%d %H:%M} UTC" if moment else "?"


def _title(run: RunRecord, what: str) -> str:
    name = "Push" if run_kind(run) == "push" else "Synchronization"
    return f"{name} #{run.id} started by {run.trigger} at {_when(run.started_at)}: {what}"


def _object_lines(results: list[dict], ok: bool, run_id: int) -> tuple[str, ...]:
    chosen = [row for row in results if bool(row["ok"]) == ok]
    mark = "" if ok else "FAILED "
    lines = [
        f"{mark}{row['action']} {row['object']}" + (f": {row['message']}" if row["message"] and not ok else "")
        for row in chosen[:MAX_OBJECTS]
    ]
    if len(chosen) > MAX_OBJECTS:
        lines.append(f"... and {len(chosen) - MAX_OBJECTS} more (google-sync status --run {run_id})")
    return tuple(lines)


def _failure(run: RunRecord) -> bool:
    # A push's transient failures are retried by the queue: told about once it has failed for an hour.
    return run.outcome in FAILED_OUTCOMES and (run_kind(run) == "full" or run.outcome == RunOutcome.INTERRUPTED)


def may_tell(run: RunRecord, when: str) -> bool:
    """Whether a finished run can be news at all (its results are read only then)."""
    if run_kind(run) == "test" or when == "never":
        return False
    return _failure(run) or (when == "changes" and run.outcome in (RunOutcome.APPLIED, RunOutcome.PARTIAL))


def run_event(run: RunRecord, results: list[dict], when: str, console_url: str = "") -> Event | None:
    """What a finished run is worth telling, if anything: a failure, or (with ``when = changes``) a change."""
    if not may_tell(run, when):
        return None
    link = run_link(console_url, run.id)
    if _failure(run):
        failed = _object_lines(results, ok=False, run_id=run.id)
        detail = (run.message,) if run.message and (not failed or run.outcome != RunOutcome.PARTIAL) else ()
        return Event(FAILURES, _title(run, run.outcome), detail + failed, FIXES[run.outcome], link)
    applied = sum(1 for row in results if row["ok"])
    if when == "changes" and applied and run.outcome in (RunOutcome.APPLIED, RunOutcome.PARTIAL):
        return Event(
            CHANGES,
            _title(run, f"{applied} change(s) applied"),
            _object_lines(results, ok=True, run_id=run.id),
            "",
            link,
        )
    return None


def held_event(held: list[HeldChange], console_url: str = "") -> Event:
    lines = tuple(f"held: {change.action} {change.object}: {change.reason}" for change in held[:MAX_OBJECTS])
    if len(held) > MAX_OBJECTS:
        lines += (f"... and {len(held) - MAX_OBJECTS} more (google-sync test lists them)",)
    title = f"{len(held)} change(s) held for your approval: a push would have broken a safety limit"
    return Event(FAILURES, title, lines, FIXES["held"], console_url + "held" if console_url else "")


def transfer_event(leaver: Offboarded, console_url: str = "") -> Event:
    what = " and ".join(name.capitalize() for name in leaver.transfer_applications)  # drive -> Drive
    title = f"Transfer of {what} of {leaver.email} to {leaver.transfer_to} failed (attempt {leaver.transfer_attempts})"
    lines = (f"why: {leaver.transfer_error}", f"next attempt: {leaver.transfer_due_at[:16].replace('T', ' ')} UTC")
    return Event(FAILURES, title, lines, FIXES["transfer"], console_url + "leavers" if console_url else "")


def push_event(push: QueuedPush, moment: datetime, console_url: str = "") -> Event:
    hours = waiting_since(push, moment).total_seconds() / 3600
    title = f"Push of {push.label} failing for {hours:.1f} hours (since {_when(push.first_seen_at)}, {push.attempts} attempts)"
    lines = (f"last error: {push.last_error}",) if push.last_error else ()
    return Event(PUSHES, title, lines, FIXES["push"], console_url)


# -- messages ----------------------------------------------------------------------------------

_SECRETS = (
    re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S),  # a PEM key
    re.compile(r"\$(?:1|2[abxy]?|5|6|y|gy|7|argon2[a-z]*|pbkdf2[\w-]*)\$[^\s'\"<>]+"),  # a crypt hash
    re.compile(
        r"\{(?:SHA|SSHA|SHA256|SSHA256|SHA512|SSHA512|MD5|SMD5|CRYPT|PBKDF2[\w-]*|ARGON2)\}[^\s'\"<>]*", re.I
    ),  # an LDAP hash
    re.compile(r"\bya29\.[\w.-]+|\b1//[\w-]{20,}"),  # Google access and refresh tokens
    re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"),  # a JWT (a signed assertion or an id token)
    re.compile(r"\b[0-9a-fA-F]{32,}\b"),  # a hex digest (an unsalted SHA-1 or MD5 password hash)
    re.compile(r"(?<![\w/+])[A-Za-z0-9+/]{40,}={0,2}"),  # a long base64 blob
    re.compile(r"(?i)(?<=password=)\S+|(?<=password: )\S+|(?<=secret=)\S+|(?<=token=)\S+"),
)


def scrub(text: str) -> str:
    """``text`` with anything shaped like a password, hash, key or token replaced by [hidden].

    Messages are built from run results and errors, which never should hold one; this makes sure.
    """
    for pattern in _SECRETS:
        text = pattern.sub("[hidden]", text)
    return text


def host_name() -> str:
    """This server's name for messages: its fully qualified name, or its plain host name when the resolver only
    knows it as localhost (a host name on a 127.0.0.1 line of /etc/hosts), which would name no server at all."""
    fqdn = socket.getfqdn()
    if fqdn.split(".")[0] in ("localhost", "") or fqdn.startswith("localhost."):
        return socket.gethostname() or fqdn
    return fqdn


def sender_address(settings: NotifySettings) -> str:
    return settings.email_from or f"google-sync@{host_name()}"


def _subject(domain: str, kind: str, events: list[Event], more: int) -> str:
    count = len(events) + more
    what = {
        FAILURES: f"{count} synchronization problem{'s' if count > 1 else ''}",
        PUSHES: f"{count} push{'es' if count > 1 else ''} failing for more than an hour",
        CHANGES: f"{count} run{'s' if count > 1 else ''} changed Google",
    }[kind]
    return f"[google-sync] {domain}: {what}"


def _message(settings: NotifySettings, subject: str, body: str, moment: datetime) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = scrub(subject)
    message["From"] = sender_address(settings)
    message["To"] = ", ".join(settings.email_to)
    message["Date"] = formatdate(moment.timestamp(), localtime=False)
    message["Message-ID"] = make_msgid(domain=sender_address(settings).partition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    message.set_content(scrub(body))
    return message


def build_message(
    settings: NotifySettings,
    domain: str,
    host: str,
    kind: str,
    events: list[Event],
    more: int = 0,
    moment: datetime | None = None,
    config_path: str = "",
) -> EmailMessage:
    """One summary of ``events`` of one kind (``more`` were left out of the list but are counted)."""
    moment = moment or now()
    lines = [f"Google Apps Synchronization for {domain}, on {host}:", ""]
    for event in events:
        lines.append(event.title)
        lines += [f"  {line}" for line in event.lines]
        if event.fix:
            lines.append(f"  Fix: {event.fix}")
        if event.link:
            lines.append(f"  {'Run page' if '/history/' in event.link else 'Console'}: {event.link}")
        lines.append("")
    if more:
        lines += [f"{more} more since the last message: `google-sync status` lists every run.", ""]
    lines += [
        "-- ",
        f"Sent because [notify] when = {settings.when}{f' in {config_path}' if config_path else ''}; at most one message "
        f"of this kind every {duration_text(settings.min_interval)}, what happens meanwhile goes in the next.",
    ]
    return _message(settings, _subject(domain, kind, events, more), "\n".join(lines) + "\n", moment)


def test_message(settings: NotifySettings, domain: str, host: str, moment: datetime | None = None) -> EmailMessage:
    wanted = {
        "failures": "when a run fails, is refused or interrupted, or a push fails for more than an hour",
        "changes": "when a run fails or changes something",
        "never": "never ([notify] when = never)",
    }[settings.when]
    body = (
        f"This is a test message from Google Apps Synchronization for {domain}, on {host}.\n\n"
        f"If you read it, notifications reach {', '.join(settings.email_to)}. They are sent {wanted}, "
        f"at most one of each kind every {duration_text(settings.min_interval)}.\n"
    )
    return _message(settings, f"[google-sync] {domain}: test message", body, moment or now())


# -- sending ------------------------------------------------------------------------------------


class SmtpSender:
    """Hands a message to the configured SMTP server: STARTTLS (or implicit TLS on port 465) and a login when asked."""

    def __init__(self, settings: NotifySettings, timeout: float = SMTP_TIMEOUT):
        self.settings, self.timeout = settings, timeout

    def send(self, message: EmailMessage) -> None:
        settings = self.settings
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        self._refuse_cleartext_login(where)
        try:
            context = ssl.create_default_context()
            smtp: smtplib.SMTP
            if settings.smtp_port == 465:
                smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=self.timeout)
            with smtp:
                if settings.starttls and settings.smtp_port != 465:
                    smtp.starttls(context=context)
                if settings.username:
                    smtp.login(settings.username, self._password())
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as error:
            raise NotifyError(
                f"the mail server {where} refused the login of [notify] username = {settings.username} "
                f"({error.smtp_code}): check it and the password in [notify] password_file"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise NotifyError(
                f"cannot send through {where} ({_reason(error)}): check [notify] smtp_host, smtp_port "
                "and starttls, and that the mail server runs"
            ) from None

    def _encrypted(self) -> bool:
        return self.settings.smtp_port == 465 or self.settings.starttls

    def _refuse_cleartext_login(self, where: str) -> None:
        """A login goes out only over TLS unless the administrator said otherwise: checked before connecting."""
        if self.settings.username and not self._encrypted() and not self.settings.allow_cleartext_auth:
            raise NotifyError(
                f"not sending the SMTP password to {where} unencrypted: set [notify] starttls = yes (or smtp_port = 465), "
                "or allow_cleartext_auth = yes for a mail server on this host"
            )

    def _password(self) -> str:
        path = self.settings.password_file
        if not path:
            raise NotifyError(
                "[notify] username is set but password_file is not: give the file holding the SMTP password"
            )
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise NotifyError(
                f"[notify] password_file = {path}: cannot read it ({getattr(error, 'strerror', None) or 'not UTF-8 text'})"
            ) from None


def _reason(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {error.smtp_error.decode('utf-8', 'replace') if isinstance(error.smtp_error, bytes) else error.smtp_error}"
    return " ".join(str(error).split()) or type(error).__name__


# -- the notifier -------------------------------------------------------------------------------


class Notifier:
    """Looks at what happened since the last look and sends what is due; the state is shared through the store."""

    def __init__(
        self, settings: Settings, store: Store | None, sender=None, clock: Callable[[], datetime] = now, host: str = ""
    ):
        """``store`` may be None for ``send_test`` alone."""
        self.settings, self.store, self.clock = settings, store, clock
        self.notify = settings.notify
        self.sender = sender or SmtpSender(self.notify)
        self.host = host or host_name()

    def check(self) -> list[str]:
        """Collect new events and send each kind that is due; returns the kinds sent. Never raises for SMTP."""
        if not self.notify.enabled:
            return []
        moment = self.clock()
        events = self._run_events(moment) + self._push_events(moment) + self._held_events() + self._transfer_events()
        return [kind for kind in KINDS if self._flush(kind, [event for event in events if event.kind == kind], moment)]

    def send_test(self) -> None:
        """A test message, now, whatever the throttle; raises NotifyError saying what to fix."""
        if not self.notify.email_to:
            raise NotifyError("[notify] email_to is empty: give the address that should receive notifications")
        self.sender.send(test_message(self.notify, self.settings.google.domain, self.host, self.clock()))

    @property
    def _store(self) -> Store:
        """The store, for everything but ``send_test``."""
        if self.store is None:
            raise RuntimeError("this Notifier was made without a store: it can only send_test")
        return self.store

    # -- what happened --------------------------------------------------------------------------

    def _run_events(self, moment: datetime) -> list[Event]:
        cursor = json.loads(self._store.get_value(CURSOR_KEY) or "null")
        after, done = (cursor["after"], set(cursor["done"])) if cursor else (0, set())
        # Older runs are history, not news (notifications just switched on, or switched back from never).
        runs = sorted(
            (run for run in self._store.runs(limit=RUNS_LOOKED_AT) if aware(run.started_at) >= moment - NEWS_WINDOW),
            key=lambda run: run.id,
        )
        fresh = [run for run in runs if run.id > after and run.id not in done and run.outcome != "running"]
        events = []
        for run in fresh:
            if may_tell(run, self.notify.when):
                event = run_event(run, self._store.results(run.id), self.notify.when, self.notify.console_url)
                events += [event] if event else []
        # Runs still running hold the cursor back; those after them already looked at are remembered.
        for run in runs:
            if run.id <= after:
                continue
            if run.outcome == "running":
                break
            after = run.id
        remembered = sorted(run_id for run_id in done | {run.id for run in fresh} if run_id > after)[-1000:]
        self._store.set_value(CURSOR_KEY, json.dumps({"after": after, "done": remembered}))
        return events

    def _push_events(self, moment: datetime) -> list[Event]:
        stuck = [
            push
            for push in self._store.queued_pushes()
            if push.attempts and waiting_since(push, moment) >= PUSH_STUCK_AFTER
        ]
        reported = set(json.loads(self._store.get_value(REPORTED_PUSHES_KEY) or "[]"))
        ids = {push: f"{push.key}@{aware(push.first_seen_at).isoformat()}" for push in stuck}
        events = [push_event(push, moment, self.notify.console_url) for push in stuck if ids[push] not in reported]
        if events or reported - set(ids.values()):
            self._store.set_value(REPORTED_PUSHES_KEY, json.dumps(sorted(ids.values())))  # pushes gone are forgotten
        return events

    def _held_events(self) -> list[Event]:
        """Changes held since the last look (each told about once)."""
        held = self._store.held()
        keys = {
            change: f"{change.scope}|{change.action}|{change.object}@{aware(change.held_at).isoformat()}"
            for change in held
        }
        reported = set(json.loads(self._store.get_value(REPORTED_HELD_KEY) or "[]"))
        new = [change for change in held if keys[change] not in reported]
        if new or reported - set(keys.values()):
            self._store.set_value(REPORTED_HELD_KEY, json.dumps(sorted(keys.values())))  # released ones are forgotten
        return [held_event(new, self.notify.console_url)] if new else []

    def _transfer_events(self) -> list[Event]:
        """[offboarding] data transfers that failed since the last look (each attempt told about once)."""
        failed = [leaver for leaver in self._store.leavers() if leaver.transfer_status == "failed"]
        keys = {leaver.google_id: f"{leaver.google_id}@{leaver.transfer_attempts}" for leaver in failed}
        reported = set(json.loads(self._store.get_value(REPORTED_TRANSFERS_KEY) or "[]"))
        new = [leaver for leaver in failed if keys[leaver.google_id] not in reported]
        if new or reported - set(keys.values()):
            self._store.set_value(REPORTED_TRANSFERS_KEY, json.dumps(sorted(keys.values())))
        return [transfer_event(leaver, self.notify.console_url) for leaver in new]

    # -- the throttle ---------------------------------------------------------------------------

    def _flush(self, kind: str, events: list[Event], moment: datetime) -> bool:
        key = THROTTLE_KEY.format(kind=kind)
        state = json.loads(self._store.get_value(key) or '{"sent_at": null, "pending": [], "more": 0}')
        pending = [Event.from_data(data) for data in state["pending"]] + events
        more = state["more"] + max(0, len(pending) - MAX_PENDING)
        pending = pending[:MAX_PENDING]
        sent_at = datetime.fromisoformat(state["sent_at"]) if state["sent_at"] else None
        due = bool(pending) and (sent_at is None or moment - sent_at >= timedelta(seconds=self.notify.min_interval))
        if not due:
            if events:
                self._save(key, state["sent_at"], pending, more)
            return False
        # Recorded as sent before sending: another process looking meanwhile does not send it twice.
        self._save(key, moment.isoformat(), [], 0)
        message = build_message(
            self.notify, self.settings.google.domain, self.host, kind, pending, more, moment, self.settings.path
        )
        try:
            self.sender.send(message)
        except NotifyError as error:
            log.error("notification not sent (%d event(s) kept for the next try): %s", len(pending), error)
            self._save(key, moment.isoformat(), pending, more)
            return False
        log.info("notification sent to %s: %s", ", ".join(self.notify.email_to), message["Subject"])
        return True

    def _save(self, key: str, sent_at: str | None, pending: list[Event], more: int) -> None:
        self._store.set_value(
            key, json.dumps({"sent_at": sent_at, "pending": [asdict(event) for event in pending], "more": more})
        )


def check_quietly(settings: Settings, store: Store) -> None:
    """Send what is due; for the places runs end, which must never fail because of a notification."""
    try:
        Notifier(settings, store).check()
    except Exception:  # noqa: BLE001  (a notification must never break a run or the worker)
        log.exception("notifications could not be checked")


def check_after(config_path: str, store: Store | None = None) -> None:
    """``check_quietly`` from a configuration file read afresh (the console may have changed [notify]), for jobs and the worker."""
    try:
        settings = config.load(config_path)
    except GoogleSyncError as error:
        log.debug("notifications not checked: %s", error)
        return
    if not settings.notify.enabled:
        return
    own = store is None
    store = store or Store(settings.sync.database)
    try:
        check_quietly(settings, store)
    finally:
        if own:
            store.close()
