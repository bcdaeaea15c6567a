"""Helpers of the host console tests: a recording fake plugin, a CSRF-aware client, the test config."""

from __future__ import annotations

import html
import re

from flask import Blueprint, render_template_string
from flask_login import current_user, login_required
from werkzeug.security import generate_password_hash

ADMIN = "admin"
ADMIN_PASSWORD = "correct horse battery"
ADMIN_HASH = generate_password_hash(ADMIN_PASSWORD)  # scrypt is slow: hash once


class RecordingExtension:
    """A user-manager extension that records every call, as the contract describes."""

    name = "google_apps"
    label = "Google Apps"
    plugin_group = "google_apps_plugin"
    description = "Synchronize this account with Google Workspace."

    def __init__(self):
        self.calls: list[tuple] = []

    def user_added(self, uid):
        self.calls.append(("user_added", uid))

    def user_updated(self, uid):
        self.calls.append(("user_updated", uid))

    def user_deleted(self, uid, uuid):
        self.calls.append(("user_deleted", uid, uuid))

    def password_changed(self, uid, cleartext):
        self.calls.append(("password_changed", uid, cleartext))

    def switch_toggled(self, uid, enabled):
        self.calls.append(("switch_toggled", uid, enabled))


class RaisingExtension(RecordingExtension):
    """Breaks the contract: every handler raises after recording the call."""

    name = "broken"
    label = "Broken App"
    plugin_group = "broken_plugin"

    def __getattribute__(self, name):
        attribute = super().__getattribute__(name)
        if name in ("user_added", "user_updated", "user_deleted", "password_changed", "switch_toggled"):

            def raising(*args):
                attribute(*args)
                raise RuntimeError(f"{name} exploded")

            return raising
        return attribute


FAKE_PAGE = """{% extends config.get("FAKE_BASE_TEMPLATE", "layout.html") %}
{% block title %}Fake Sync{% endblock %}
{% block content %}<div class="panel"><div class="panel-title">Status</div><p>Hello {{ current_user.get_id() }}</p></div>{% endblock %}"""


class FakePlugin:
    """A plugin built to the host contract, without importing the host."""

    def __init__(self, extension=None, blueprint_name="fake_sync", title="Fake Sync"):
        self.extension = extension if extension is not None else RecordingExtension()
        self.blueprint_name = blueprint_name
        self.title = title
        self.menu = []
        self.user_extension = None

    def init_app(self, app):
        bp = Blueprint(self.blueprint_name, __name__, url_prefix=f"/apps/{self.blueprint_name}")

        @bp.route("/")
        @login_required
        def index():
            assert current_user.is_admin
            return render_template_string(FAKE_PAGE)

        @bp.post("/action")
        @login_required
        def action():
            return "done"

        app.register_blueprint(bp)
        self.menu = [
            {
                "category": "Server",
                "subcategory": "Messaging and Collaboration",
                "title": self.title,
                "endpoint": f"{self.blueprint_name}.index",
            }
        ]
        self.user_extension = self.extension


def host_config(directory, **overrides) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "CONSOLE_ADMIN_USERNAME": ADMIN,
        "CONSOLE_ADMIN_PASSWORD_HASH": ADMIN_HASH,
        "CONSOLE_LDAP_URI": directory.uri,
        "CONSOLE_LDAP_BIND_DN": directory.root_dn,
        "CONSOLE_LDAP_BIND_PASSWORD": directory.root_pw,
        "CONSOLE_LDAP_BASE_DN": directory.suffix,
        "CONSOLE_MAIL_DOMAIN": "example.com",
        "CONSOLE_DISCOVER_PLUGINS": False,  # the other plugins installed here are not under test
        "CONSOLE_STRICT_PLUGINS": True,
        **overrides,
    }


class Browser:
    """A test client that sends the page's CSRF token with every POST, like a browser with the form."""

    def __init__(self, client):
        self.client = client

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def token(self) -> str:
        page = self.client.get("/login", follow_redirects=True)  # the dashboard once logged in
        return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)

    def post(self, path, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token())
        return self.client.post(path, data=data, **kwargs)

    def login(self, username=ADMIN, password=ADMIN_PASSWORD):
        return self.post("/login", {"username": username, "password": password})


def text_of(response) -> str:
    """The page's text with tags and extra whitespace removed, to assert on what a person reads."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))
