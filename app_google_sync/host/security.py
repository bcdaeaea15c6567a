"""Sessions the server can end, login throttling and the response headers of the console.

Flask's cookie sessions cannot be revoked: a copied cookie works until it
expires. So each login also gets a random session token, kept server-side
(hashed) with its expiry, and a request whose token is missing, unknown or
expired is treated as anonymous; logging out deletes the token. Failed logins
are counted per user name and address, per address and per name; past the
limit, further attempts are refused (without checking the password) for a
delay that doubles with each further failure, except that a name's own lock
never refuses an address that has not failed on it or logged in as it before
(see "login throttling" below).

Both live in a small SQLite database: in this process's memory by default (a
restart logs everyone out), or in the file ``CONSOLE_SESSION_STORE`` names,
which every process of a multi-process server then shares.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import LengthRequired

log = logging.getLogger(__name__)

SESSION_KEY = "_console_session"

# The pages need no inline script and no other origin. Inline style *attributes* stay allowed
# (style-src-attr): the layout's contract lets pages size a progress bar with style="width: 42%".
# form-action is not restricted: a plugin may POST a form that redirects to Google's sign-in.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

DEFAULTS = {
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
    "CONSOLE_SESSION_IDLE_TIMEOUT": timedelta(minutes=30),
    # None: the cookie is Secure when the request came over HTTPS (behind a proxy, ProxyFix(x_proto=1) says so);
    # True or False forces it.
    "SESSION_COOKIE_SECURE": None,
    "CONSOLE_SESSION_STORE": None,
    "CONSOLE_LOGIN_MAX_FAILURES": 5,
    "CONSOLE_LOGIN_FAILURE_WINDOW": timedelta(minutes=15),
    "CONSOLE_LOGIN_LOCKOUT": timedelta(minutes=1),
    "CONSOLE_LOGIN_MAX_LOCKOUT": timedelta(hours=1),
    "CONSOLE_LOGIN_TRUSTED_FOR": timedelta(days=30),
    "CONSOLE_CONTENT_SECURITY_POLICY": CONTENT_SECURITY_POLICY,
    "CONSOLE_CLOCK": time.time,
}
DURATIONS = (
    "PERMANENT_SESSION_LIFETIME",
    "CONSOLE_SESSION_IDLE_TIMEOUT",
    "CONSOLE_LOGIN_FAILURE_WINDOW",
    "CONSOLE_LOGIN_LOCKOUT",
    "CONSOLE_LOGIN_MAX_LOCKOUT",
    "CONSOLE_LOGIN_TRUSTED_FOR",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS console_sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL, last_seen REAL);
CREATE TABLE IF NOT EXISTS console_login_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS console_login_failures_key ON console_login_failures (key, at);
CREATE TABLE IF NOT EXISTS console_login_locks (key TEXT PRIMARY KEY, strikes INTEGER NOT NULL, locked_until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS console_login_trusted (username TEXT NOT NULL, address TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (username, address));
"""


def seconds(value) -> float:
    """A duration setting as seconds: a ``timedelta`` or a number of seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def check_config(config, error) -> None:
    for key in DURATIONS:
        try:
            if seconds(config[key]) <= 0:
                raise ValueError
        except (TypeError, ValueError):
            raise error(f"{key} must be a positive number of seconds or a timedelta") from None
    if not isinstance(config["CONSOLE_LOGIN_MAX_FAILURES"], int) or config["CONSOLE_LOGIN_MAX_FAILURES"] < 1:
        raise error("CONSOLE_LOGIN_MAX_FAILURES must be a whole number of 1 or more")
    if not callable(config["CONSOLE_CLOCK"]):
        raise error("CONSOLE_CLOCK must be a function returning the time in seconds")
    if config["SESSION_COOKIE_SECURE"] not in (None, True, False):
        raise error("SESSION_COOKIE_SECURE must be True, False, or None (Secure over HTTPS only)")


class SecurityStore:
    """Session tokens and login failures in SQLite; safe across threads (and processes, with a file)."""

    def __init__(self, path: str | None = None):
        self.path = path or ":memory:"
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():  # a forked worker opens its own
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            connection.executescript(_SCHEMA)
            columns = {row[1] for row in connection.execute("PRAGMA table_info(console_sessions)")}
            if "last_seen" not in columns:  # a store file written before the idle timeout
                connection.execute("ALTER TABLE console_sessions ADD COLUMN last_seen REAL")
            if self.path != ":memory:":
                os.chmod(self.path, 0o600)
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    def transaction(self):
        return _Transaction(self)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class _Transaction:
    """``with store.transaction() as db:`` one write-locked transaction (BEGIN IMMEDIATE)."""

    def __init__(self, store: SecurityStore):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        try:
            self.connection = self.store._connect()
            self.connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._lock.release()
            raise
        return self.connection

    def __exit__(self, kind, _value, _traceback):
        try:
            self.connection.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self.store._lock.release()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def init_security(app: Flask) -> SecurityStore:
    store = SecurityStore(app.config["CONSOLE_SESSION_STORE"])
    app.extensions["console_security"] = store
    app.session_interface = ConsoleSessionInterface()
    app.url_value_preprocessor(refuse_unsized_body)  # runs before every before_request, CSRFProtect's included
    app.before_request(drop_revoked_session)
    app.after_request(security_headers)
    return store


def store() -> SecurityStore:
    return current_app.extensions["console_security"]


def now() -> float:
    return float(current_app.config["CONSOLE_CLOCK"]())


def is_static(endpoint: str | None) -> bool:
    return endpoint is not None and (endpoint == "static" or endpoint.endswith(".static"))


# --- sessions ---------------------------------------------------------------------
def start_session(username: str) -> None:
    """Call right after ``login_user``: a new server-side token for this login, expiring after the lifetime."""
    token = secrets.token_urlsafe(32)
    created = now()
    expires = created + seconds(current_app.permanent_session_lifetime)
    with store().transaction() as db:
        db.execute("DELETE FROM console_sessions WHERE expires <= ?", (created,))
        db.execute(
            "INSERT INTO console_sessions VALUES (?, ?, ?, ?, ?)", (_hash(token), username, created, expires, created)
        )
    session[SESSION_KEY] = token
    session.permanent = True  # the cookie expires too (PERMANENT_SESSION_LIFETIME)
    g.console_session_valid = True


def end_session() -> None:
    """Revoke this session's token: the cookie, wherever it was copied, no longer logs anyone in."""
    token = session.get(SESSION_KEY)
    if token:
        with store().transaction() as db:
            db.execute("DELETE FROM console_sessions WHERE token_hash = ?", (_hash(token),))
    g.console_session_valid = False


def session_is_valid() -> bool:
    """True when this request's session holds a live token of the logged-in user (checked once per request).

    A token dies ``PERMANENT_SESSION_LIFETIME`` after the login, or ``CONSOLE_SESSION_IDLE_TIMEOUT`` after
    the last request that carried it; each request that finds it alive moves its last use to now.
    """
    if "console_session_valid" not in g:
        token, user_id = session.get(SESSION_KEY), session.get("_user_id")
        valid = False
        if isinstance(token, str) and isinstance(user_id, str):
            with store().transaction() as db:
                valid = _touch(db, _hash(token), user_id, now())
        g.console_session_valid = valid
    return g.console_session_valid


def _touch(db: sqlite3.Connection, token_hash: str, user_id: str, current: float) -> bool:
    row = db.execute(
        "SELECT username, expires, last_seen FROM console_sessions WHERE token_hash = ?", (token_hash,)
    ).fetchone()
    if row is None:
        return False
    username, expires, last_seen = row
    idle = seconds(current_app.config["CONSOLE_SESSION_IDLE_TIMEOUT"])
    if expires <= current or (last_seen or current) + idle <= current:
        db.execute("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash,))
        log.info("console session of %s %s", username, "expired" if expires <= current else "ended after being idle")
        return False
    db.execute("UPDATE console_sessions SET last_seen = ? WHERE token_hash = ?", (current, token_hash))
    return username == user_id


def drop_revoked_session():
    """Before every request (plugins' pages too): a login whose token is gone or expired is forgotten."""
    if is_static(request.endpoint):
        return None
    if session.get("_user_id") is not None and not session_is_valid():
        session.clear()
    return None


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, whose Secure flag follows the request's scheme when SESSION_COOKIE_SECURE is None."""

    def get_cookie_secure(self, app: Flask) -> bool:
        setting = app.config["SESSION_COOKIE_SECURE"]
        if setting is None:
            return has_request_context() and request.is_secure
        return bool(setting)


def refuse_unsized_body(_endpoint, _values) -> None:
    """A body without Content-Length (chunked) is refused (411) before anything reads it.

    ``MAX_CONTENT_LENGTH`` refuses a declared length at once; a chunked body would instead be read up to
    the limit and silently cut there, and a cut form could pass CSRF and be acted on. Browsers never send one.
    """
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        raise LengthRequired("send the request with a Content-Length header (a chunked body is not accepted)")


def security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers["Content-Security-Policy"] = current_app.config["CONSOLE_CONTENT_SECURITY_POLICY"]
    if not is_static(request.endpoint):
        # Pages show directory data and carry CSRF tokens: never kept by a browser or a proxy.
        response.headers["Cache-Control"] = "no-store"
    return response


# --- login throttling ---------------------------------------------------------------
# Three counts, so that nobody can lock the administrator out by failing on purpose:
#  - per name *and* address: an address guessing one account is locked (doubling delays);
#  - per address: an address guessing many names is locked;
#  - per name, whatever the address: a name under attack from many addresses is *slowed down*, not
#    locked: while its lock runs, only addresses that failed on it (and never logged in as it) are
#    refused. An address that has not failed on the name, or that logged in as it before (remembered
#    for CONSOLE_LOGIN_TRUSTED_FOR), still gets its password checked. A botnet thus gets one guess per
#    address and per lock; the administrator, at a usual or any fresh address, gets in.
PAIR, ADDRESS, ACCOUNT = "pair", "address", "account"

_MESSAGES = {
    PAIR: "Too many failed logins for this account from your address",
    ADDRESS: "Too many failed logins from your address",
    ACCOUNT: "Too many failed logins for this account",
}
_LOGGED_AS = {PAIR: "account at this address", ADDRESS: "address", ACCOUNT: "account"}


@dataclass(frozen=True)
class Refusal:
    """Why a login attempt is refused without looking at the password, and for how long."""

    subject: str  # PAIR, ADDRESS or ACCOUNT
    retry_after: float  # seconds

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))

    @property
    def locked(self) -> str:
        """What is locked, for the log line."""
        return _LOGGED_AS[self.subject]

    @property
    def message(self) -> str:
        unit = "minute" if self.minutes == 1 else "minutes"
        return f"{_MESSAGES[self.subject]}; try again in {self.minutes} {unit}."


def _name(username: str) -> str:
    return username.casefold()[:256]


def _keys(username: str, address: str) -> dict[str, str]:
    address = address or "unknown"
    return {
        PAIR: f"pair:{_name(username)}\x00{address}",
        ADDRESS: "addr:" + address,
        ACCOUNT: "user:" + _name(username),
    }


def _exempt_from_account_lock(db: sqlite3.Connection, username: str, address: str, current: float) -> bool:
    """The address logged in as this name before, or has not failed on it lately: the name's slow-down does not apply."""
    config = current_app.config
    trusted = db.execute(
        "SELECT 1 FROM console_login_trusted WHERE username = ? AND address = ? AND at > ?",
        (_name(username), address or "unknown", current - seconds(config["CONSOLE_LOGIN_TRUSTED_FOR"])),
    ).fetchone()
    if trusted is not None:
        return True
    failed = db.execute(
        "SELECT 1 FROM console_login_failures WHERE key = ? AND at > ? LIMIT 1",
        (_keys(username, address)[PAIR], current - seconds(config["CONSOLE_LOGIN_FAILURE_WINDOW"])),
    ).fetchone()
    return failed is None


def _refusals(db: sqlite3.Connection, username: str, address: str, current: float) -> list[Refusal]:
    found = []
    for subject, key in _keys(username, address).items():
        row = db.execute("SELECT locked_until FROM console_login_locks WHERE key = ?", (key,)).fetchone()
        if row is None or row[0] <= current:
            continue
        if subject == ACCOUNT and _exempt_from_account_lock(db, username, address, current):
            continue
        found.append(Refusal(subject, row[0] - current))
    return found


def _longest(refusals: list[Refusal]) -> Refusal | None:
    return max(refusals, key=lambda refusal: refusal.retry_after, default=None)


def login_refusal(username: str, address: str) -> Refusal | None:
    """A refusal when this attempt may not even be checked now (the longer wait first), else None."""
    with store().transaction() as db:
        return _longest(_refusals(db, username, address, now()))


def record_failure(username: str, address: str) -> Refusal | None:
    """Count a failed login for the pair, the address and the name; the refusal this address now meets, if any.

    ``CONSOLE_LOGIN_MAX_FAILURES`` failures within ``CONSOLE_LOGIN_FAILURE_WINDOW``
    lock the key for ``CONSOLE_LOGIN_LOCKOUT``; each further failure doubles the
    lock, up to ``CONSOLE_LOGIN_MAX_LOCKOUT``. The doubling starts over once a
    whole window has passed since the last lock ended.
    """
    config = current_app.config
    current = now()
    window = seconds(config["CONSOLE_LOGIN_FAILURE_WINDOW"])
    limit = config["CONSOLE_LOGIN_MAX_FAILURES"]
    first, longest = seconds(config["CONSOLE_LOGIN_LOCKOUT"]), seconds(config["CONSOLE_LOGIN_MAX_LOCKOUT"])
    with store().transaction() as db:
        db.execute("DELETE FROM console_login_failures WHERE at <= ?", (current - window,))
        db.execute("DELETE FROM console_login_locks WHERE locked_until <= ?", (current - window,))
        for key in _keys(username, address).values():
            db.execute("INSERT INTO console_login_failures VALUES (?, ?)", (key, current))
            failures = db.execute("SELECT COUNT(*) FROM console_login_failures WHERE key = ?", (key,)).fetchone()[0]
            if failures < limit:
                continue
            row = db.execute("SELECT strikes FROM console_login_locks WHERE key = ?", (key,)).fetchone()
            strikes = (row[0] if row else 0) + 1
            delay = min(longest, first * 2 ** min(strikes - 1, 32))
            db.execute("INSERT OR REPLACE INTO console_login_locks VALUES (?, ?, ?)", (key, strikes, current + delay))
        return _longest(_refusals(db, username, address, current))


def record_success(username: str, address: str) -> None:
    """A successful login clears the pair's and the address's failures and locks, and trusts the address for the name.

    The name's own count stays: an attack on it from elsewhere goes on being slowed down.
    """
    keys = _keys(username, address)
    current = now()
    with store().transaction() as db:
        for key in (keys[PAIR], keys[ADDRESS]):
            db.execute("DELETE FROM console_login_failures WHERE key = ?", (key,))
            db.execute("DELETE FROM console_login_locks WHERE key = ?", (key,))
        db.execute(
            "DELETE FROM console_login_trusted WHERE at <= ?",
            (current - seconds(current_app.config["CONSOLE_LOGIN_TRUSTED_FOR"]),),
        )
        db.execute(
            "INSERT OR REPLACE INTO console_login_trusted VALUES (?, ?, ?)",
            (_name(username), address or "unknown", current),
        )


def unlock(path: str) -> int:
    """Forget every failed login and lock in a session store file; the number of locks lifted."""
    with SecurityStore(path).transaction() as db:
        lifted = db.execute("SELECT COUNT(*) FROM console_login_locks").fetchone()[0]
        db.execute("DELETE FROM console_login_locks")
        db.execute("DELETE FROM console_login_failures")
    return lifted


def loggable(name: str, limit: int = 64) -> str:
    """A user name safe inside a single-quoted log field: one line, no bare quote, bounded length.

    fail2ban and other log readers then cannot be fooled by a name holding a
    newline or ``' from 10.0.0.1``.
    """
    shown = name[:limit].encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return shown + ("..." if len(name) > limit else "")


def main(argv=None) -> int:
    """``python -m app_google_sync.host.security unlock STORE_FILE``: lift every login lock now."""
    import sys  # noqa: PLC0415

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "unlock":
        print("usage: python -m app_google_sync.host.security unlock CONSOLE_SESSION_STORE-file", file=sys.stderr)
        return 2
    if not os.path.isfile(args[1]):
        print(
            f"{args[1]}: no such session store file (without CONSOLE_SESSION_STORE, restarting the console lifts every lock)",
            file=sys.stderr,
        )
        return 2
    print(f"{unlock(args[1])} lock(s) lifted; failed logins forgotten.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
