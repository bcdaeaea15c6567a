"""Sessions the server can end, login throttling and the response headers of the console.

Flask's cookie sessions cannot be revoked: a copied cookie works until it
expires. So each login also gets a random session token, kept server-side
(hashed) with its expiry, and a request whose token is missing, unknown or
expired is treated as anonymous; logging out deletes the token. Failed logins
are counted per user name and per client address; past the limit, further
attempts are refused (without checking the password) for a delay that doubles
with each further failure.

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

from flask import Flask, current_app, g, request, session
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
    "CONSOLE_SESSION_STORE": None,
    "CONSOLE_LOGIN_MAX_FAILURES": 5,
    "CONSOLE_LOGIN_FAILURE_WINDOW": timedelta(minutes=15),
    "CONSOLE_LOGIN_LOCKOUT": timedelta(minutes=1),
    "CONSOLE_LOGIN_MAX_LOCKOUT": timedelta(hours=1),
    "CONSOLE_CONTENT_SECURITY_POLICY": CONTENT_SECURITY_POLICY,
    "CONSOLE_CLOCK": time.time,
}
DURATIONS = ("PERMANENT_SESSION_LIFETIME", "CONSOLE_LOGIN_FAILURE_WINDOW", "CONSOLE_LOGIN_LOCKOUT", "CONSOLE_LOGIN_MAX_LOCKOUT")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS console_sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS console_login_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS console_login_failures_key ON console_login_failures (key, at);
CREATE TABLE IF NOT EXISTS console_login_locks (key TEXT PRIMARY KEY, strikes INTEGER NOT NULL, locked_until REAL NOT NULL);
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
        db.execute("INSERT INTO console_sessions VALUES (?, ?, ?, ?)", (_hash(token), username, created, expires))
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
    """True when this request's session holds a live token of the logged-in user (checked once per request)."""
    if "console_session_valid" not in g:
        token, user_id = session.get(SESSION_KEY), session.get("_user_id")
        valid = False
        if isinstance(token, str) and isinstance(user_id, str):
            with store().transaction() as db:
                row = db.execute("SELECT username, expires FROM console_sessions WHERE token_hash = ?", (_hash(token),)).fetchone()
                if row is not None and row[1] <= now():
                    db.execute("DELETE FROM console_sessions WHERE token_hash = ?", (_hash(token),))
                    log.info("console session of %s expired", row[0])
                    row = None
            valid = row is not None and row[0] == user_id
        g.console_session_valid = valid
    return g.console_session_valid


def refuse_unsized_body(_endpoint, _values) -> None:
    """A body without Content-Length (chunked) is refused (411) before anything reads it.

    ``MAX_CONTENT_LENGTH`` refuses a declared length at once; a chunked body would instead be read up to
    the limit and silently cut there, and a cut form could pass CSRF and be acted on. Browsers never send one.
    """
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        raise LengthRequired("send the request with a Content-Length header (a chunked body is not accepted)")


def drop_revoked_session():
    """Before every request (plugins' pages too): a login whose token is gone or expired is forgotten."""
    if is_static(request.endpoint):
        return None
    if session.get("_user_id") is not None and not session_is_valid():
        session.clear()
    return None


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
@dataclass(frozen=True)
class Refusal:
    """Why a login attempt is refused without looking at the password, and for how long."""

    subject: str  # "account" or "address"
    retry_after: float  # seconds

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))

    @property
    def message(self) -> str:
        unit = "minute" if self.minutes == 1 else "minutes"
        where = "for this account" if self.subject == "account" else "from your address"
        return f"Too many failed logins {where}; try again in {self.minutes} {unit}."


def _keys(username: str, address: str) -> list[tuple[str, str]]:
    return [("account", "user:" + username.casefold()[:256]), ("address", "addr:" + (address or "unknown"))]


def login_refusal(username: str, address: str) -> Refusal | None:
    """A refusal when the user name or the address is locked out now, the longer wait first."""
    current = now()
    refusals = []
    with store().transaction() as db:
        for subject, key in _keys(username, address):
            row = db.execute("SELECT locked_until FROM console_login_locks WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] > current:
                refusals.append(Refusal(subject, row[0] - current))
    return max(refusals, key=lambda refusal: refusal.retry_after, default=None)


def record_failure(username: str, address: str) -> Refusal | None:
    """Count a failed login for the name and the address; the lockout it starts, if any.

    ``CONSOLE_LOGIN_MAX_FAILURES`` failures within ``CONSOLE_LOGIN_FAILURE_WINDOW``
    lock the name (or address) for ``CONSOLE_LOGIN_LOCKOUT``; each further failure
    doubles the lock, up to ``CONSOLE_LOGIN_MAX_LOCKOUT``. The doubling starts
    over once a whole window has passed since the last lock ended.
    """
    config = current_app.config
    current = now()
    window = seconds(config["CONSOLE_LOGIN_FAILURE_WINDOW"])
    limit = config["CONSOLE_LOGIN_MAX_FAILURES"]
    first, longest = seconds(config["CONSOLE_LOGIN_LOCKOUT"]), seconds(config["CONSOLE_LOGIN_MAX_LOCKOUT"])
    refusals = []
    with store().transaction() as db:
        db.execute("DELETE FROM console_login_failures WHERE at <= ?", (current - window,))
        db.execute("DELETE FROM console_login_locks WHERE locked_until <= ?", (current - window,))
        for subject, key in _keys(username, address):
            db.execute("INSERT INTO console_login_failures VALUES (?, ?)", (key, current))
            failures = db.execute("SELECT COUNT(*) FROM console_login_failures WHERE key = ?", (key,)).fetchone()[0]
            if failures < limit:
                continue
            row = db.execute("SELECT strikes FROM console_login_locks WHERE key = ?", (key,)).fetchone()
            strikes = (row[0] if row else 0) + 1
            delay = min(longest, first * 2 ** min(strikes - 1, 32))
            db.execute("INSERT OR REPLACE INTO console_login_locks VALUES (?, ?, ?)", (key, strikes, current + delay))
            refusals.append(Refusal(subject, delay))
    return max(refusals, key=lambda refusal: refusal.retry_after, default=None)


def record_success(username: str, address: str) -> None:
    """A successful login clears the name's and the address's failures and locks."""
    with store().transaction() as db:
        for _subject, key in _keys(username, address):
            db.execute("DELETE FROM console_login_failures WHERE key = ?", (key,))
            db.execute("DELETE FROM console_login_locks WHERE key = ?", (key,))


def loggable(name: str, limit: int = 64) -> str:
    """A user name safe inside a single-quoted log field: one line, no bare quote, bounded length.

    fail2ban and other log readers then cannot be fooled by a name holding a
    newline or ``' from 10.0.0.1``.
    """
    shown = name[:limit].encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return shown + ("..." if len(name) > limit else "")
