"""Helpers of the console plugin's tests: a tiny test host built to the plugin contract, a logged-in client."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.serving import make_server

from app_google_sync import GoogleSync
from app_google_sync.host import demo as demo_host

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = HERE.parents[1] / "test-artifacts" / "console"
ADMIN_PASSWORD = "Host-Admin-Pass-9"
USER_PASSWORD = "Demo-Password-1"


class Account(UserMixin):
    def __init__(self, name: str, is_admin: bool):
        self.id = name
        self.is_admin = is_admin


ACCOUNTS = {"admin": (ADMIN_PASSWORD, True), "clerk": ("Clerk-Pass-1", False)}


def make_host(config_path, secrets_dir, **settings) -> Flask:
    """A minimal host console, built to the plugin contract; the real one is app_google_sync.host."""
    app = Flask("test_host", template_folder=str(HERE / "host_templates"))
    app.config.update(
        {
            "SECRET_KEY": "test-host-secret",
            "GOOGLE_SYNC_CONFIG": str(config_path),
            "GOOGLE_SYNC_SECRETS_DIR": str(secrets_dir),
            "GOOGLE_SYNC_RUN_SCHEDULER": True,
            "GOOGLE_SYNC_PUSH_DELAY": 0.05,
            **settings,
        }
    )
    login = LoginManager(app)
    login.login_view = "login"
    CSRFProtect(app)

    @login.user_loader
    def load(name):
        return Account(name, ACCOUNTS[name][1]) if name in ACCOUNTS else None

    @app.route("/login", methods=["GET", "POST"], endpoint="login")
    def login_page():
        error = ""
        if request.method == "POST":
            name = request.form.get("username", "")
            if name in ACCOUNTS and request.form.get("password") == ACCOUNTS[name][0]:
                login_user(Account(name, ACCOUNTS[name][1]))
                return redirect(request.args.get("next") or url_for("google_sync.index"))
            error = "Wrong user or password"
        return render_template("login.html", error=error)

    @app.route("/logout")
    def logout():
        logout_user()
        return redirect(url_for("login"))

    host = Blueprint("host", __name__)

    @host.route("/users/new")
    def user_create():
        return f"create user {request.args.get('uid', '')}"

    app.register_blueprint(host)
    plugin = GoogleSync()
    plugin.init_app(app)
    app.extensions["test_plugin"] = plugin
    return app


def csrf_token(client, path="/app/google_sync/settings") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in " + path
    return match.group(1)


class Console:
    """A logged-in administrator's test client, adding the CSRF token to every POST."""

    prefix = "/app/google_sync"

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        token = csrf_token(self.client, "/login")
        response = self.client.post(
            "/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        self.token = csrf_token(self.client)

    def get(self, path, **kwargs):
        return self.client.get(self.prefix + path, **kwargs)

    def post(self, path, data=None, **kwargs):
        return self.client.post(self.prefix + path, data={"csrf_token": self.token, **(data or {})}, **kwargs)

    @property
    def state(self):
        return self.app.extensions["google_sync"]


def add_people(directory, *uids, groups=("google_apps_plugin",)):
    for uid in uids:
        directory.add_user(
            uid, uid.capitalize(), "Tester", password=USER_PASSWORD, mail=f"{uid}@example.com", groups=groups
        )


def text_of(response) -> str:
    """The page's visible text, spaces collapsed (markup is not the contract)."""
    page = response.get_data(as_text=True)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def secrets_of(env) -> list[str]:
    """Strings that must never reach a page: the key's private key, the LDAP bind password."""
    key = json.loads(Path(env.key_path).read_text())
    body = "".join(key["private_key"].splitlines()[1:-1])
    return [body[:40], body[-40:], "PRIVATE KEY", key["private_key_id"], env.directory.sync_password]


def wait_for_run(console, timeout=60):
    console.state.runs.join(timeout)


def shot(page, name: str) -> None:
    """A full-page screenshot in test-artifacts/console/ (look at them)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def token_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` served on 127.0.0.1 and a free port by a thread; yields the plugin's URL. Afterwards the server stops,
    the console's background runs are waited for and the extension shuts down."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/app/google_sync"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        app.extensions["google_sync"].runs.join(30)
        app.extensions["google_sync"].shutdown()


def log_in(page, plugin_url: str) -> None:
    """Sign in to the demo host as its administrator (the login page, then back to the plugin)."""
    page.goto(plugin_url + "/")
    page.fill("#username", demo_host.ADMIN_USERNAME)
    page.fill("#password", demo_host.ADMIN_PASSWORD)
    page.click("button[type=submit]")
