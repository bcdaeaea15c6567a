"""The console on the demo: seeded slapd + Google Directory API emulator + the installed plugins.

``run_console()`` serves it until Ctrl-C; ``build_demo_app(env)`` builds the
same app for tests without serving it.
"""

from __future__ import annotations

import secrets
import socket
import threading
import webbrowser

from flask import Flask
from werkzeug.security import generate_password_hash
from werkzeug.serving import run_simple

from app_google_sync.demo.environment import DOMAIN, DemoEnvironment

from .app import create_app
from .plugins import shutdown_plugins

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "demo-admin-password"


def build_demo_app(env: DemoEnvironment, admin_password: str = ADMIN_PASSWORD, **config) -> Flask:
    """The console over ``env``'s directory (bound as its rootDN) with the plugin pointed at ``env``'s config."""
    directory = env.directory
    settings = {
        "SECRET_KEY": secrets.token_hex(32),
        "CONSOLE_TITLE": "Demo Console",
        "CONSOLE_ADMIN_USERNAME": ADMIN_USERNAME,
        "CONSOLE_ADMIN_PASSWORD_HASH": generate_password_hash(admin_password),
        "CONSOLE_LDAP_URI": directory.uri,
        "CONSOLE_LDAP_BIND_DN": directory.root_dn,
        "CONSOLE_LDAP_BIND_PASSWORD": directory.root_pw,
        "CONSOLE_LDAP_BASE_DN": directory.suffix,
        "CONSOLE_MAIL_DOMAIN": DOMAIN,
        "GOOGLE_SYNC_CONFIG": str(env.config_path),
        **config,
    }
    return create_app(settings)


def _free_port(host: str, wanted: int) -> int:
    """``wanted`` when it is free, else any free port (a second demo, or something else on 8000)."""
    for port in (wanted, 0):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
                return probe.getsockname()[1]
            except OSError:
                continue
    raise OSError(f"no free port on {host}")


def run_console(
    host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False, env: DemoEnvironment | None = None
) -> None:
    """Serve the console on ``host:port`` until Ctrl-C, over ``env`` or a demo environment of its own."""
    if env is None:
        with DemoEnvironment() as own:
            return run_console(host, port, open_browser, own)
    app = build_demo_app(env)
    port = _free_port(host, port)
    url = f"http://{host}:{port}/"
    print(f"Console:  {url}")
    print(f"Login:    {ADMIN_USERNAME} / {ADMIN_PASSWORD}")
    print(f"Plugin configuration: {env.config_path}")
    print(f"Google emulator: {env.emulator.base_url}")
    print("Press Ctrl-C to stop.", flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        shutdown_plugins(app)  # before the environment's files go away
