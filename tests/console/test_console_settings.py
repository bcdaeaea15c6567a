"""Settings page: domain and administrator, service-account key upload, disconnect; the INI file edited in place."""

import io
import json
import os
import stat

import pytest
from console_helpers import text_of

from app_google_sync.libraries.core.errors import ConfigError
from app_google_sync.libraries.google.google_target import SCOPES
from app_google_sync.libraries.settings import config_file


def key_upload(info, name="key.json"):
    data = info if isinstance(info, bytes) else json.dumps(info).encode()
    return {"key": (io.BytesIO(data), name)}


@pytest.fixture(scope="module")
def service_account_key():
    from app_google_sync.emulator.auth import Authority

    return Authority().create_service_account("http://127.0.0.1:9/token")


def test_valid_settings_are_saved_keeping_comments(fresh_console, bare_config):
    response = fresh_console.post("/settings", {"domain": " Example.COM ", "admin_email": "Admin@Example.com"})
    assert response.status_code == 302
    text = bare_config.read_text()
    assert "# google-sync configuration" in text and "# filled by the console" in text
    parser = config_file.read(str(bare_config))
    assert parser.get("google", "domain") == "example.com"
    assert parser.get("google", "admin_email") == "admin@example.com"
    assert stat.S_IMODE(os.stat(bare_config).st_mode) == 0o600
    assert "Saved: domain example.com" in text_of(fresh_console.get("/settings"))


@pytest.mark.parametrize(
    "form, message",
    [
        ({"domain": "not a domain", "admin_email": "admin@example.com"}, "give the Google Workspace primary domain"),
        ({"domain": "example.com", "admin_email": "nobody"}, "give the address of a Google super administrator"),
        (
            {"domain": "example.com", "admin_email": "admin@elsewhere.org"},
            "must be an address in the domain example.com",
        ),
        ({"domain": "", "admin_email": ""}, "give the Google Workspace primary domain"),
    ],
)
def test_invalid_settings_are_explained_and_not_saved(fresh_console, bare_config, form, message):
    before = bare_config.read_text()
    response = fresh_console.post("/settings", form)
    assert response.status_code == 400
    assert message in text_of(response)
    assert 'class="form-row has-error"' in response.get_data(as_text=True)
    assert bare_config.read_text() == before


def test_key_upload_stores_it_private_and_points_the_config_at_it(
    fresh_console, bare_config, tmp_path, service_account_key
):
    response = fresh_console.post("/settings/key", key_upload(service_account_key), content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith("/settings#delegation")
    stored = tmp_path / "secrets" / "service-account.json"
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert json.loads(stored.read_text()) == service_account_key
    assert config_file.read(str(bare_config)).get("google", "credentials_file") == str(stored)
    page = fresh_console.get("/settings")
    text = text_of(page)
    assert f'value="{service_account_key["client_id"]}"' in page.get_data(as_text=True)
    assert f'value="{",".join(SCOPES)}"' in page.get_data(as_text=True)
    assert service_account_key["client_email"] in text
    assert "Domain-wide delegation" in text and "Copy" in text
    body = page.get_data(as_text=True)
    for secret in (
        "PRIVATE KEY",
        service_account_key["private_key_id"],
        service_account_key["private_key"].splitlines()[1],
    ):
        assert secret not in body


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"not json at all", "the file is not JSON"),
        ({"web": {"client_id": "x"}}, "not a service-account key"),
        ({"type": "authorized_user", "refresh_token": "r"}, "not a service-account key"),
        (
            {"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com"},
            "the key lacks private_key_id, private_key, client_id, token_uri",
        ),
        (b"[1, 2]", "not a service-account key"),
        (b"x" * 70000, "too large"),
    ],
)
def test_a_bad_key_is_refused_with_the_reason(fresh_console, bare_config, tmp_path, payload, message):
    response = fresh_console.post("/settings/key", key_upload(payload), content_type="multipart/form-data")
    assert response.status_code == 400
    assert message in text_of(response)
    assert not (tmp_path / "secrets" / "service-account.json").exists()
    assert not config_file.value(config_file.read(str(bare_config)), "google", "credentials_file")


def ec_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    "name, payload, message",
    [
        (
            "deep.json",
            lambda key: b"[" * 32000 + b"]" * 32000,
            "deep.json cannot be used: the file nests too deeply to be a service-account key: download the key again",
        ),
        (
            "deep-object.json",
            lambda key: b'{"a":' * 10000 + b"1" + b"}" * 10000,
            "deep-object.json cannot be used: the file nests too deeply to be a service-account key",
        ),
        (
            "ec-key.json",
            lambda key: {**key, "private_key": ec_key_pem()},
            "ec-key.json cannot be used: the private key is not an RSA key (EC), and Google signs service-account tokens with RS256 "
            "only: create a new JSON key for the service account in the Google Cloud console.",
        ),
    ],
)
def test_a_deep_json_or_a_non_rsa_key_is_one_line_naming_the_file(
    fresh_console, bare_config, tmp_path, service_account_key, name, payload, message
):
    response = fresh_console.post(
        "/settings/key", key_upload(payload(service_account_key), name), content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert message in text_of(response)
    assert "Traceback" not in response.get_data(as_text=True) and "PRIVATE KEY" not in response.get_data(as_text=True)
    assert not (tmp_path / "secrets" / "service-account.json").exists()
    assert not config_file.value(config_file.read(str(bare_config)), "google", "credentials_file")


def test_a_damaged_private_key_is_refused_without_echoing_it(fresh_console, service_account_key):
    damaged = {
        **service_account_key,
        "private_key": "-----BEGIN PRIVATE KEY-----\nAAAAsecretish\n-----END PRIVATE KEY-----\n",
    }
    response = fresh_console.post("/settings/key", key_upload(damaged), content_type="multipart/form-data")
    assert response.status_code == 400
    assert "private key cannot be read" in text_of(response)
    assert "secretish" not in response.get_data(as_text=True)


def test_upload_without_a_file(fresh_console):
    response = fresh_console.post("/settings/key", {}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose the service-account JSON key file" in text_of(response)


def test_disconnect_removes_the_key_and_stops_automatic_sync(fresh_console, bare_config, tmp_path, service_account_key):
    fresh_console.post("/settings/key", key_upload(service_account_key), content_type="multipart/form-data")
    config_file.update(str(bare_config), "sync", {"automatic": "yes", "interval": "30"})
    response = fresh_console.post("/disconnect")
    assert response.status_code == 302
    parser = config_file.read(str(bare_config))
    assert not parser.has_option("google", "credentials_file")
    assert config_file.schedule(parser).enabled is False
    assert not (tmp_path / "secrets" / "service-account.json").exists()
    assert "every Google account is left as it is" in text_of(fresh_console.get("/settings"))


def test_disconnect_leaves_a_key_the_console_did_not_write(fresh_console, bare_config, tmp_path, service_account_key):
    own = tmp_path / "admin-key.json"
    own.write_text(json.dumps(service_account_key))
    config_file.update(str(bare_config), "google", {"credentials_file": str(own)})
    fresh_console.post("/disconnect")
    assert own.exists()
    assert "was not written by the console and is left in place" in text_of(fresh_console.get("/settings"))


def test_a_value_made_invalid_by_hand_is_explained_on_the_page(fresh_console, bare_config):
    bare_config.write_text(bare_config.read_text() + "interval = often\n")
    response = fresh_console.get("/automatic")
    assert response.status_code == 500
    assert f"{bare_config}: [sync] interval = 'often': give a whole number of minutes" in text_of(response)
    assert "needs a correction" in text_of(fresh_console.get("/groups"))


def test_oauth_button_is_hidden_with_a_note_when_no_client_is_configured(fresh_console):
    text = text_of(fresh_console.get("/settings"))
    assert "Connect to Google" not in text
    assert "GOOGLE_SYNC_OAUTH_CLIENT" in text


class TestConfigFile:
    def test_update_replaces_adds_and_removes_keeping_the_rest(self, tmp_path):
        path = tmp_path / "c.conf"
        path.write_text(
            "# top\n[ldap]\nuri = ldap://x\n\n[google]\n; note\ndomain = old.com\ncredentials_file = /k.json\n\n[sync]\n# tuning\nbatch_size = 50\n"
        )
        config_file.update(
            str(path), "google", {"domain": "new.com", "admin_email": "a@new.com", "credentials_file": None}
        )
        config_file.update(str(path), "sync", {"automatic": "yes"})
        config_file.update(str(path), "attributes", {"title": "jobTitle"})
        assert path.read_text() == (
            "# top\n[ldap]\nuri = ldap://x\n\n[google]\n; note\ndomain = new.com\nadmin_email = a@new.com\n\n"
            "[sync]\n# tuning\nbatch_size = 50\nautomatic = yes\n\n[attributes]\ntitle = jobTitle\n"
        )

    def test_values_spanning_lines_are_refused(self, tmp_path):
        path = tmp_path / "c.conf"
        path.write_text("[google]\n")
        with pytest.raises(Exception, match="cannot span lines"):
            config_file.update(str(path), "google", {"domain": "a.com\n[ldap]"})

    def test_schedule_typos_are_refused_naming_the_key(self, tmp_path):
        path = tmp_path / "c.conf"
        path.write_text("[sync]\nautomatic = yes\ninterval = often\n")
        with pytest.raises(ConfigError, match=r"c\.conf: \[sync\] interval = 'often': give a whole number of minutes"):
            config_file.read(str(path))
        path.write_text("[sync]\nautomatic = yes\ninterval = 30\n")
        assert config_file.schedule(config_file.read(str(path))) == config_file.Schedule(True, 30)


# --- request size: the plugin caps its own bodies, whatever the host sets --------------------------------
def test_the_plugin_refuses_an_oversized_body_on_a_host_without_a_limit(fresh_app):
    """make_host sets no MAX_CONTENT_LENGTH: the plugin's own cap (128 KiB) applies before CSRF parses the form."""
    assert fresh_app.config.get("MAX_CONTENT_LENGTH") is None
    client = fresh_app.test_client()
    response = client.post("/app/google_sync/settings", data={"domain": "x" * (200 * 1024)})  # anonymous, no token
    assert response.status_code == 413
    assert "The request is larger than 128 KiB and was refused; nothing was changed." in text_of(response)
    response = client.post(
        "/app/google_sync/settings",
        data=b"domain=x",
        headers={"Transfer-Encoding": "chunked"},
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 411


def test_a_hosts_stricter_limit_stays(bare_config, host_factory):
    app = host_factory(bare_config, MAX_CONTENT_LENGTH=16 * 1024)
    response = app.test_client().post("/app/google_sync/settings", data={"domain": "x" * (20 * 1024)})
    assert response.status_code == 413 and "larger than 16 KiB" in text_of(response)
