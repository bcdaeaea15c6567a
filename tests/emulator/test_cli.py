"""`google-sync-emulator` as a person runs it: a process, a key file, a state file."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest
from emulator_helpers import USER_SCOPE, credentials, directory, error_of, query_of, sign_in, user_body
from google_auth_oauthlib.flow import Flow
from googleapiclient.errors import HttpError

from app_google_sync.emulator.cli import build_parser


def start(*args):
    script = shutil.which("google-sync-emulator", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "app_google_sync.emulator.cli"]
    process = subprocess.Popen(
        command + ["--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    printed = {}
    for line in process.stdout:
        name, _, value = line.partition(":")
        printed[name.strip()] = value.strip()
        if name.strip() == "key file":
            break
    return process, printed


def stop(process):
    process.send_signal(signal.SIGTERM)
    _, errors = process.communicate(timeout=10)
    assert process.returncode == 0, errors
    return errors


def test_cli_writes_key_serves_and_keeps_state(tmp_path):
    key_path, state_path = tmp_path / "key.json", tmp_path / "state.json"
    process, printed = start(
        "--service-account-key", str(key_path), "--state", str(state_path), "--admin-password", "never-logged-pw"
    )
    try:
        assert printed["api_endpoint"].startswith("http://127.0.0.1:")
        assert printed["token_uri"] == printed["api_endpoint"] + "token"
        assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
        key = json.loads(key_path.read_text())
        assert key["type"] == "service_account" and key["token_uri"] == printed["token_uri"]
        emu = type("Endpoint", (), {"base_url": printed["api_endpoint"]})
        service = directory(emu, credentials(key))
        service.users().insert(body=user_body("cli@example.com")).execute()
    finally:
        log = stop(process)
    assert "POST /admin/directory/v1/users -> 200" in log
    assert "never-logged-pw" not in log and "ya29." not in log and "correct horse" not in log

    process, printed = start("--service-account-key", str(key_path), "--state", str(state_path))
    try:
        key = dict(json.loads(key_path.read_text()), token_uri=printed["token_uri"])  # new port
        emu = type("Endpoint", (), {"base_url": printed["api_endpoint"]})
        user = directory(emu, credentials(key)).users().get(userKey="cli@example.com").execute()
        assert user["primaryEmail"] == "cli@example.com"
    finally:
        stop(process)


def test_cli_help_describes_every_option(capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--domain",
        "--admin",
        "--admin-password",
        "--service-account-key",
        "--scopes",
        "--quota",
        "--quota-window",
        "--latency",
        "--fail-rate",
        "--state",
        "-v",
        "--quota-status",
        "--max-concurrent",
        "--propagation-delay",
        "--outage",
        "--outage-for",
        "--fail-tokens-after",
        "--fail-tokens-times",
        "--token-failure-status",
        "--answer-delay",
        "--drop-answers-after",
        "--drop-answers-times",
        "SIGUSR1",
    ):
        assert option in text
    assert "User creation is not complete." in " ".join(text.split())


def test_cli_outage_toggled_by_sigusr1_quota_429_and_stats_at_exit(tmp_path):
    key_path = tmp_path / "key.json"
    process, printed = start(
        "--service-account-key", str(key_path), "--outage", "--quota", "1", "--quota-status", "429"
    )
    try:
        emu = type("Endpoint", (), {"base_url": printed["api_endpoint"]})
        service = directory(emu, credentials(json.loads(key_path.read_text())))
        with pytest.raises(HttpError) as raised:
            service.users().get(userKey="admin@example.com").execute()
        assert error_of(raised)[:2] == (503, "backendError")
        process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while True:  # the signal is handled a moment later
            try:
                service.users().get(userKey="admin@example.com").execute()
                break
            except HttpError as error:
                assert error.resp.status == 503 and time.monotonic() < deadline
                time.sleep(0.02)
        with pytest.raises(HttpError) as raised:
            service.users().get(userKey="admin@example.com").execute()
        assert error_of(raised)[:2] == (429, "rateLimitExceeded")
    finally:
        log = stop(process)
    assert "outage off" in log
    assert "accepted=1 " in log and "rejected_quota=1 " in log and "rejected_outage=" in log


@pytest.mark.parametrize(
    "args",
    [
        ["--fail-tokens-times", "2"],
        ["--drop-answers-after", "-1"],
        ["--answer-delay", "-1"],
        ["--drop-answers-after", "1", "--drop-answers-times", "0"],
    ],
)
def test_cli_refuses_bad_fault_options(args):
    script = shutil.which("google-sync-emulator", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "app_google_sync.emulator.cli"]
    done = subprocess.run(command + ["--port", "0", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "--" in done.stderr


def test_cli_writes_oauth_client_for_the_web_flow(tmp_path, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    client_path, key_path = tmp_path / "client.json", tmp_path / "key.json"
    redirect = "http://127.0.0.1:8081/google/callback"
    process, printed = start(
        "--oauth-client",
        str(client_path),
        "--redirect-uri",
        redirect,
        "--admin-password",
        "cli-Pa55word",
        "--service-account-key",
        str(key_path),
    )
    try:
        assert stat.S_IMODE(os.stat(client_path).st_mode) == 0o600
        client = json.loads(client_path.read_text())
        assert client["web"]["auth_uri"] == printed["auth_uri"] == printed["api_endpoint"] + "o/oauth2/auth"
        assert client["web"]["token_uri"] == printed["token_uri"]
        assert client["web"]["redirect_uris"] == [redirect]
        flow = Flow.from_client_config(client, [USER_SCOPE], redirect_uri=redirect)
        url, _ = flow.authorization_url(access_type="offline", prompt="consent")
        status, location, _ = sign_in(url, "admin@example.com", "cli-Pa55word")
        assert status == 302
        flow.fetch_token(code=query_of(location)["code"])
        emu = type("Endpoint", (), {"base_url": printed["api_endpoint"]})
        directory(emu, flow.credentials).users().get(userKey="admin@example.com").execute()
    finally:
        log = stop(process)
    assert "cli-Pa55word" not in log and client["web"]["client_secret"] not in log


def test_cli_help_describes_oauth_options(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert "--oauth-client" in text and "--redirect-uri" in text
