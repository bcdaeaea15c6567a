"""Errors that name the setting to fix: an unreachable api_endpoint (and no PASS for a scope never tried), and each
of Google's token refusals told apart (the real CLI, the emulator over HTTP answering as Google words it)."""

from __future__ import annotations

import json

import pytest

from app_google_sync import cli
from app_google_sync.libraries.google.google_target import SCOPES


def run(env, capsys, *command):
    code = cli.main(["--config", str(env.config_path), *command])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def replace_google_setting(env, key, value, **more):
    path = env.write_config(google_options=more, max_retries="0")
    lines = [f"{key} = {value}" if line.startswith(f"{key} = ") else line for line in path.read_text().splitlines()]
    path.write_text("\n".join(lines) + "\n")


def test_an_unreachable_api_endpoint_is_named_and_check_passes_no_scope_it_never_tried(env, capsys):
    env.directory.add_user("alice", "Alice", "Tester", groups=("google_apps_plugin",))
    replace_google_setting(env, "api_endpoint", "http://127.0.0.1:1/", retry_deadline="0")
    code, out, err = run(env, capsys, "test")
    assert code != 0 and "[google] api_endpoint = http://127.0.0.1:1/" in out + err
    code, out, _ = run(env, capsys, "check")
    lines = {line.split(":", 1)[0]: line for line in out.splitlines() if line.startswith(("PASS", "FAIL"))}
    assert code != 0 and lines["PASS  token"]  # the token comes from the key's token_uri, which answers
    for scope in SCOPES:
        line = next(line for line in out.splitlines() if f"  {scope}:" in line)
        assert line.startswith("FAIL"), line
        assert "delegate this scope" not in line, line  # a refused connection is no missing delegation
    assert "[google] api_endpoint = http://127.0.0.1:1/" in next(
        line for line in out.splitlines() if f"  {SCOPES[0]}:" in line
    )
    assert "not tried: the groups could not be listed" in next(
        line for line in out.splitlines() if f"  {SCOPES[2]}:" in line
    )


def _delete_account(env, key):
    env.emulator.delete_service_account(key)


def _delete_key(env, key):
    env.emulator.delete_service_account_key(key)


def _admin_not_a_user(env, key):
    replace_google_setting(env, "admin_email", "nobody@example.com")


def _scopes_not_delegated(env, key):
    env.emulator.register_service_account(key, scopes=[SCOPES[0]])


TOKEN_CASES = {
    # case: (how it breaks, words the FAIL token line must hold, words it must not)
    "unknown service account": (
        _delete_account,
        [
            "Google refused a token: it does not know the service account",
            "[google] credentials_file =",
            "Invalid grant: account not found",
        ],
        ["admin_email", "not delegated"],
    ),
    "deleted key": (
        _delete_key,
        [
            "Google refused a token: it does not accept the key",
            "[google] credentials_file =",
            "download a new JSON key",
            "Invalid JWT Signature.",
        ],
        ["admin_email", "not delegated"],
    ),
    "admin_email not a user": (
        _admin_not_a_user,
        ["[google] admin_email = nobody@example.com is not an active user", "Invalid email or User ID"],
        ["credentials_file", "not delegated"],
    ),
    "scopes not delegated": (
        _scopes_not_delegated,
        ["not allowed these scopes", "Domain-wide delegation", f"(not delegated: {SCOPES[1]}, {SCOPES[2]})"],
        [],
    ),
}


@pytest.mark.parametrize("case", TOKEN_CASES)
def test_each_token_refusal_names_the_key_to_fix(env, capsys, case):
    breaks, wanted, unwanted = TOKEN_CASES[case]
    breaks(env, json.loads(env.key_path.read_text()))
    code, out, _ = run(env, capsys, "check")
    line = next(line for line in out.splitlines() if line.startswith("FAIL  token:"))
    assert code != 0
    assert all(words in line for words in wanted), line
    assert not any(words in line for words in unwanted), line
    assert "-----BEGIN" not in out and 'private_key"' not in out
