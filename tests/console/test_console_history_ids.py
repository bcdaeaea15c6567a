"""A run id in the history's address that no run has (too large for the database, or unknown) is a 404 page, not a 500."""

import html

import pytest
from console_helpers import token_of
from werkzeug.security import generate_password_hash

from app_google_sync import GoogleSync
from app_google_sync.host import create_app

PREFIX = "/app/google_sync"
TOO_LARGE = ["99999999999999999999", str(2**63), str(2**64 + 1), "1" + "0" * 400]
UNKNOWN = ["0", "999", str(2**63 - 1), "007"]


@pytest.mark.parametrize("run_id", TOO_LARGE + UNKNOWN)
def test_a_run_id_out_of_range_or_unknown_is_404(fresh_console, run_id):
    response = fresh_console.get(f"/history/{run_id}")
    assert response.status_code == 404, response.get_data(as_text=True)[:300]


def test_the_history_still_answers_after_a_too_large_id(fresh_console):
    assert fresh_console.get("/history/99999999999999999999").status_code == 404
    assert fresh_console.get("/history").status_code == 200
    assert fresh_console.get("/history/1").status_code == 404


@pytest.fixture
def real_host(bare_config, tmp_path):
    """The reference host (no directory) with the plugin on a fresh install's configuration."""
    plugin = GoogleSync()
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "history-ids",
            "CONSOLE_ADMIN_PASSWORD_HASH": generate_password_hash("pw-history-ids"),
            "CONSOLE_DISCOVER_PLUGINS": False,
            "CONSOLE_PLUGINS": [plugin],
            "GOOGLE_SYNC_CONFIG": str(bare_config),
            "GOOGLE_SYNC_SECRETS_DIR": str(tmp_path / "secrets"),
            "GOOGLE_SYNC_RUN_SCHEDULER": False,
        }
    )
    yield app
    app.extensions["google_sync"].shutdown()


def test_the_404_is_the_hosts_normal_page(real_host):
    client = real_host.test_client()
    token = token_of(client.get("/login").get_data(as_text=True))
    assert (
        client.post("/login", data={"username": "admin", "password": "pw-history-ids", "csrf_token": token}).status_code
        == 302
    )
    response = client.get(f"{PREFIX}/history/99999999999999999999")
    assert response.status_code == 404
    page = html.unescape(response.get_data(as_text=True))
    assert "Page not found" in page and "Log out" in page  # the host's error page, in its layout
