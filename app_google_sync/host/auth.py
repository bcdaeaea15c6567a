"""The console's single administrator, configured by name and password hash."""

from __future__ import annotations

import hmac
import re
from urllib.parse import urlsplit

from flask import Flask, current_app
from flask_login import LoginManager, UserMixin
from werkzeug.security import check_password_hash

from . import security

# Compared against when the username is wrong, so both failures take as long.
_DUMMY_HASH = "scrypt:32768:8:1$0000000000000000$" + "0" * 128


class Administrator(UserMixin):
    """The logged-in administrator; ``is_admin`` is what plugins check."""

    is_admin = True

    def __init__(self, username: str):
        self.id = username

    @property
    def username(self) -> str:
        return self.id


def init_login(app: Flask) -> LoginManager:
    manager = LoginManager(app)
    manager.login_view = "host.login"
    manager.login_message = "Please log in to use the console."
    manager.login_message_category = "info"
    manager.user_loader(_load_user)
    return manager


def _load_user(user_id: str) -> Administrator | None:
    if not security.session_is_valid():  # logged out, expired, or a cookie from before a restart
        return None
    username = current_app.config["CONSOLE_ADMIN_USERNAME"]
    return Administrator(username) if hmac.compare_digest(user_id.encode(), username.encode()) else None


def authenticate(username: str, password: str) -> Administrator | None:
    """The administrator if both the name and the password are right, else None."""
    expected = current_app.config["CONSOLE_ADMIN_USERNAME"]
    name_ok = hmac.compare_digest(username.encode(), expected.encode())
    password_hash = current_app.config["CONSOLE_ADMIN_PASSWORD_HASH"] if name_ok else _DUMMY_HASH
    try:
        password_ok = check_password_hash(password_hash, password)
    except ValueError:
        password_ok = False
    return Administrator(expected) if name_ok and password_ok else None


MAX_NEXT_LENGTH = 2048
_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x20\x7f-\x9f\\]")  # control characters, spaces, backslashes


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site (never another host), else ``default``.

    The value checked is the value returned: ``urlsplit`` silently drops tabs and line breaks, so a
    target holding one (``/x\r\ny``) is refused outright rather than checked without them and sent
    on with them (a header injection, or a 500 from the redirect).
    """
    if not target or len(target) > MAX_NEXT_LENGTH or _UNSAFE_IN_NEXT.search(target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default
