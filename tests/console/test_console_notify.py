"""The Settings page's Notifications panel and its "Send test message" button, against a real SMTP server."""

from __future__ import annotations

import os
import re
import socket
import threading

import pytest
from console_helpers import CHROMIUM, shot, text_of
from werkzeug.serving import make_server

from app_google_sync.host.demo import ADMIN_PASSWORD, ADMIN_USERNAME, build_demo_app


def add_notify(env, port: int, **keys: str) -> None:
    lines = {
        "email_to": "ops@example.com",
        "smtp_host": "127.0.0.1",
        "smtp_port": str(port),
        "username": "relay",
        "password_file": "/etc/clearos/google_sync/smtp-password",
        **keys,
    }
    path = env.config_path
    path.write_text(path.read_text() + "\n[notify]\n" + "".join(f"{key} = {value}\n" for key, value in lines.items()))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_without_recipients_the_panel_says_off_and_offers_no_button(console):
    page = text_of(console.get("/settings"))
    assert "Notifications Off" in page and "Set [notify] email_to" in page
    assert "Send test message" not in page


def test_the_button_sends_a_test_message_and_needs_the_csrf_token(env, console, smtp_sink):
    add_notify(env, smtp_sink.port, username="", password_file="")
    page = text_of(console.get("/settings"))
    assert "Notifications On: failures" in page and "ops@example.com" in page and f"127.0.0.1:{smtp_sink.port}" in page
    refused = console.client.post(console.prefix + "/settings/notify-test")
    assert refused.status_code == 400 and smtp_sink.messages == []
    response = console.post("/settings/notify-test")
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings#notifications")
    assert "Test message sent to ops@example.com" in text_of(console.get("/settings"))
    (message,) = smtp_sink.messages
    assert message["Subject"] == "[google-sync] example.com: test message"


def test_an_unreachable_mail_server_is_explained_on_the_page(env, console):
    port = closed_port()
    add_notify(env, port, username="", password_file="")
    console.post("/settings/notify-test")
    page = text_of(console.get("/settings"))
    assert f"No test message sent: cannot send through 127.0.0.1:{port}" in page and "check [notify] smtp_host" in page


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)")
def test_send_test_message_in_a_browser(env, smtp_sink, tmp_path, page):
    from playwright.sync_api import expect

    add_notify(
        env, smtp_sink.port, username="", password_file="", console_url="https://server.example.com:81/app/google_sync/"
    )
    app = build_demo_app(
        env, GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"), GOOGLE_SYNC_PUSH_DELAY=0.1, CONSOLE_STRICT_PLUGINS=True
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        plugin = f"http://127.0.0.1:{server.server_port}/app/google_sync"
        page.goto(plugin + "/settings")
        page.fill("#username", ADMIN_USERNAME)
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(plugin + "/settings")
        panel = page.locator("#notifications")
        expect(panel).to_contain_text("On: failures")
        expect(panel).to_contain_text("https://server.example.com:81/app/google_sync/")
        page.click("#notifications button:has-text('Send test message')")
        expect(page).to_have_url(re.compile(r"/settings#notifications$"))
        expect(page.locator(".flash, .alert").first).to_contain_text("Test message sent to ops@example.com")
        page.locator("#notifications").scroll_into_view_if_needed()
        shot(page, "settings-notifications")
        assert len(smtp_sink.messages) == 1
    finally:
        server.shutdown()
        thread.join(timeout=5)
        app.extensions["google_sync"].shutdown()
