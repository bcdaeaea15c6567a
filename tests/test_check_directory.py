"""`google-sync check` tells apart each way the directory side can be misconfigured, one line naming the key and the fix.

Real slapd (the ClearOS-like DemoDirectory, whose ACLs hide everything from anonymous binds) and the real CLI.
"""

import re

import pytest

from app_google_sync import cli


def with_setting(env, section, key, value):
    """The environment's config file with ``key`` in ``section`` set (added when absent)."""
    text = env.config_path.read_text()
    pattern = re.compile(rf"^{key} = .*$", re.MULTILINE)
    block = text.index(f"[{section}]")
    end = text.find("\n[", block + 1)
    end = len(text) if end < 0 else end
    body = text[block:end]
    body = pattern.sub(f"{key} = {value}", body) if pattern.search(body) else body.rstrip("\n") + f"\n{key} = {value}\n"
    env.config_path.write_text(text[:block] + body + text[end:])


def check(env, capsys):
    code = cli.main(["--config", str(env.config_path), "check"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


CASES = {
    # case: (settings to write, words the one FAIL line must hold)
    "anonymous bind": (
        {("ldap", "bind_dn"): "", ("ldap", "bind_password"): ""},
        ["FAIL  ldap:", "anonymous", "[ldap] bind_dn is empty", "bind_password_file"],
    ),
    "empty password": (
        {("ldap", "bind_password"): ""},
        ["FAIL  ldap:", "[ldap] bind_dn is cn=sync", "password is empty", "bind_password_file"],
    ),
    "wrong password": (
        {("ldap", "bind_password"): "Wrong-Password-9"},
        ["FAIL  ldap:", "invalidCredentials", "[ldap] bind_password"],
    ),
    "missing users_dn": (
        {("ldap", "users_dn"): "ou=People,ou=Accounts,dc=example,dc=com"},
        [
            "FAIL  ldap:",
            "ou=People,ou=Accounts,dc=example,dc=com does not exist",
            "nearest entry that does is ou=Accounts,dc=example,dc=com",
            "[ldap] users_dn",
        ],
    ),
    "missing groups_dn": (
        {("ldap", "groups_dn"): "ou=Teams,dc=example,dc=com"},
        ["FAIL  ldap:", "ou=Teams,dc=example,dc=com does not exist", "[ldap] groups_dn"],
    ),
    "missing enabled group": (
        {("ldap", "enabled_group"): "google_apps_plugn"},
        ["FAIL  ldap:", "enabled_group 'google_apps_plugn' not found", "[ldap] enabled_group"],
    ),
    "missing group names": (
        {("sync", "groups"): "sales, salse"},
        ["FAIL  groups:", "[sync] groups names salse,", "Groups page"],
    ),
    "missing excluded group": (
        {("sync", "exclude_groups"): "enginering"},
        ["FAIL  exclude_groups:", "[sync] exclude_groups names enginering"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_names_the_key_and_the_fix(env, capsys, case):
    env.directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin",))
    env.directory.add_group("sales", members=("alice",))
    env.directory.add_group("engineering")
    settings, words = CASES[case]
    for (section, key), value in settings.items():
        with_setting(env, section, key, value)
    code, out, err = check(env, capsys)
    assert code == 1 and "Traceback" not in out + err
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1, out
    for word in words:
        assert word in failed[0], failed[0]
    assert "Wrong-Password-9" not in out + err and env.directory.sync_password not in out + err
    assert "PASS  token" in out  # Google is checked all the same, on its own lines


def test_check_passes_when_the_named_groups_exist(env, capsys):
    env.directory.add_group("sales")
    with_setting(env, "sync", "groups", "sales, google_apps_plugin_x")
    code, out, _ = check(env, capsys)
    assert code == 1 and "FAIL  groups: [sync] groups names google_apps_plugin_x," in out
    with_setting(env, "sync", "groups", "Sales")  # names compare without case, as slapd's cn does
    code, out, _ = check(env, capsys)
    assert code == 0 and "FAIL" not in out
