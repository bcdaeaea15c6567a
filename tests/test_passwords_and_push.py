"""Passwords reach Google as hashes it can check; single changes are pushed with O(1) calls."""

import logging
import subprocess
import time

import pytest
from waiting import wait_for

from app_google_sync import cli
from app_google_sync.libraries.core.model import PasswordHash
from app_google_sync.libraries.core.passwords import sha512_crypt
from app_google_sync.libraries.runtime.live import LiveSync
from app_google_sync.libraries.sync.engine import SyncEngine

PASSWORD = "First-Secret-1"


def sync(env, *args):
    return cli.main(["--config", str(env.config_path), "sync", *args])


def writes(emulator):
    return [call for call in emulator.calls if call["method"] != "GET"]


def lists(emulator):
    return [
        call
        for call in emulator.calls
        if call["method"] == "GET" and call["path"].endswith(("/users", "/groups", "/members"))
    ]


def ldappasswd(directory, uid, new_password):
    subprocess.run(
        [
            "ldappasswd",
            "-x",
            "-H",
            directory.uri,
            "-D",
            directory.root_dn,
            "-w",
            directory.root_pw,
            "-s",
            new_password,
            directory.user_dn(uid),
        ],
        check=True,
        capture_output=True,
    )


def ldapmodify(directory, ldif):
    subprocess.run(
        ["ldapmodify", "-x", "-H", directory.uri, "-D", directory.root_dn, "-w", directory.root_pw],
        input=ldif.encode(),
        check=True,
        capture_output=True,
    )


@pytest.fixture
def crypt_directory(env):
    env.directory.set_password_hash("{CRYPT}", "$6$%.16s")
    yield env
    env.directory.set_password_hash("{SSHA}", "%s")


def test_ldappasswd_on_a_crypt_directory_arrives_as_crypt(crypt_directory):
    env = crypt_directory
    env.directory.add_user("alice", "Alice", "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    assert sync(env) == 0
    ldappasswd(env.directory, "alice", "Changed-Secret-2")
    env.emulator.reset_calls()
    assert sync(env) == 0
    function, value = env.emulator.stored_password("alice@example.com")
    assert function == "crypt" and value.startswith("$6$")
    assert env.emulator.check_password("alice@example.com", "Changed-Secret-2")
    assert not env.emulator.check_password("alice@example.com", PASSWORD)
    assert len(writes(env.emulator)) == 1  # just the password


def test_sha_directory_password_arrives_as_sha1_hex_and_is_pushed_once(env):
    env.directory.add_user(
        "bob", "Bob", "Tester", password=PASSWORD, password_scheme="{SHA}", groups=("google_apps_plugin",)
    )
    sync(env)
    function, value = env.emulator.stored_password("bob@example.com")
    assert function == "SHA-1" and len(value) == 40
    assert env.emulator.check_password("bob@example.com", PASSWORD)
    env.directory.set_password("bob", "Second-Secret-2", "{SHA}")
    assert sync(env) == 0
    assert env.emulator.check_password("bob@example.com", "Second-Secret-2")
    env.emulator.reset_calls()
    assert sync(env) == 0
    assert writes(env.emulator) == [], "an unchanged password is not pushed again"


def test_ssha_password_is_reported_and_not_pushed(env, capsys):
    no_clearos_copy = {"clearSHA1Password": None}  # a plain OpenLDAP directory: only the salted hash
    env.directory.add_user(
        "carol",
        "Carol",
        "Tester",
        password=PASSWORD,
        password_scheme="{SSHA}",
        groups=("google_apps_plugin",),
        extra_attrs=no_clearos_copy,
    )
    assert cli.main(["--config", str(env.config_path), "test"]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "carol: password not synchronized: password stored as {SSHA}" in out and "password-crypt-salt-format" in out
    sync(env)
    assert env.emulator.stored_password("carol@example.com")[0] is None  # a random cleartext password, not the SSHA one
    assert not env.emulator.check_password("carol@example.com", PASSWORD)


def test_password_captured_in_the_console_is_pushed_as_crypt_and_never_stored(env, caplog):
    env.directory.add_user("dave", "Dave", "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    sync(env)
    caplog.set_level(logging.DEBUG)
    cleartext = "Console-Secret-3"
    env.directory.set_password("dave", cleartext, "{SSHA}")  # what the host wrote to LDAP
    engine = SyncEngine(env.settings)
    env.emulator.reset_calls()
    report = engine.push_user("dave", trigger="password", password=PasswordHash(sha512_crypt(cleartext), "crypt"))
    assert report.outcome == "applied", report.message
    assert env.emulator.stored_password("dave@example.com")[0] == "crypt"
    assert env.emulator.check_password("dave@example.com", cleartext)
    assert lists(env.emulator) == [], "a targeted push never lists the domain"
    database = (env.state_dir / "state" / "state.db").read_bytes()
    assert cleartext.encode() not in database
    assert cleartext not in caplog.text


def test_targeted_push_of_a_changed_name_costs_two_calls(env):
    env.directory.add_user("erin", "Erin", "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    for number in range(20):
        env.directory.add_user(f"other{number}", "Other", f"Tester {number}", groups=("google_apps_plugin",))
    sync(env)
    env.directory.modify_user("erin", givenName="Erina")
    env.emulator.reset_calls()
    report = SyncEngine(env.settings).push_user("erin")
    assert [r.change.action for r in report.results] == ["update user"]
    assert env.emulator.get_user("erin@example.com")["name"]["givenName"] == "Erina"
    assert len(env.emulator.calls) == 2 and lists(env.emulator) == []  # users.get + users.patch


def test_targeted_push_of_a_new_user_joins_its_groups(env):
    env.directory.add_user("alice", "Alice", "Tester", groups=("google_apps_plugin",))
    env.directory.add_group("sales", members=("alice",))
    sync(env)
    env.directory.add_user("frank", "Frank", "Tester", groups=("google_apps_plugin", "sales"))
    report = SyncEngine(env.settings).push_user("frank")
    assert report.outcome == "applied"
    assert sorted(env.emulator.members("sales@example.com")) == ["alice@example.com", "frank@example.com"]


def test_targeted_push_suspends_a_deleted_user(env):
    env.directory.add_user("gina", "Gina", "Tester", groups=("google_apps_plugin",))
    env.directory.add_user(
        "hans", "Hans", "Tester", groups=("google_apps_plugin",)
    )  # a directory emptied whole holds instead
    sync(env)
    uuid = env.directory.user_entry("gina")["entryUUID"][0].decode()
    env.directory.delete_user("gina")
    report = SyncEngine(env.settings).push_user("gina", uuid=uuid)
    assert [r.change.action for r in report.results] == ["suspend user"]
    assert env.emulator.get_user("gina@example.com")["suspended"] is True


@pytest.fixture
def live(env):
    env.write_config(push_delay="0.3")
    live = LiveSync(str(env.config_path))
    yield live
    live.stop()


def test_watcher_pushes_an_ldapmodify_within_seconds_without_listing(env, live):
    env.directory.add_user("hank", "Hank", "Tester", groups=("google_apps_plugin",))
    sync(env)
    live.start()
    time.sleep(1.0)  # initial refresh
    env.emulator.reset_calls()
    ldapmodify(
        env.directory,
        f"dn: {env.directory.user_dn('hank')}\nchangetype: modify\nreplace: givenName\ngivenName: Henry\n",
    )
    assert wait_for(lambda: env.emulator.get_user("hank@example.com")["name"]["givenName"] == "Henry")
    assert lists(env.emulator) == []


def test_watcher_sees_the_switch_and_group_changes(env, live):
    env.directory.add_user("ivy", "Ivy", "Tester", groups=("google_apps_plugin",))
    env.directory.add_user("jack", "Jack", "Tester", groups=("google_apps_plugin",))
    env.directory.add_group("sales", members=("ivy",))
    sync(env)
    live.start()
    time.sleep(1.0)
    env.directory.remove_from_group("google_apps_plugin", "ivy")
    assert wait_for(lambda: env.emulator.get_user("ivy@example.com")["suspended"] is True)
    env.directory.add_to_group("sales", "jack")
    assert wait_for(lambda: "jack@example.com" in env.emulator.members("sales@example.com"))


def test_watcher_survives_a_slapd_restart(env, live):
    env.directory.add_user("kim", "Kim", "Tester", groups=("google_apps_plugin",))
    sync(env)
    live.start()
    time.sleep(1.0)
    env.directory.restart_server()
    env.directory.modify_user("kim", givenName="Kimberly")
    assert wait_for(lambda: env.emulator.get_user("kim@example.com")["name"]["givenName"] == "Kimberly", timeout=20)


def test_pushes_stop_once_google_is_disconnected(env, live, caplog):
    caplog.set_level(logging.INFO, logger="app_google_sync.libraries.runtime.jobs")
    env.directory.add_user("mia", "Mia", "Tester", groups=("google_apps_plugin",))
    sync(env)
    text = env.config_path.read_text().replace(f"credentials_file = {env.key_path}", "credentials_file =")
    env.config_path.write_text(text)
    live.start()
    time.sleep(1.0)
    env.emulator.reset_calls()
    env.directory.modify_user("mia", givenName="Maria")
    assert wait_for(lambda: "push of user mia skipped: Google is not connected" in caplog.text)
    assert env.emulator.calls == []


def test_without_syncprov_the_watcher_says_so_and_polls(tmp_path, caplog):
    from app_google_sync.demo.directory import DemoDirectory
    from app_google_sync.demo.environment import DemoEnvironment

    caplog.set_level(logging.WARNING, logger="app_google_sync.libraries.directory.watcher")
    with DemoDirectory(syncprov=False) as server:
        server.add_group("google_apps_plugin")
        server.add_user("lena", "Lena", "Tester", groups=("google_apps_plugin",))
        with DemoEnvironment(state_dir=str(tmp_path), directory=server) as env:
            env.write_config(poll_interval="1", push_delay="0.2")
            sync(env)
            live = LiveSync(str(env.config_path))
            live.start()
            try:
                assert wait_for(lambda: "does not offer syncrepl" in caplog.text)
                server.modify_user("lena", givenName="Helena")
                assert wait_for(lambda: env.emulator.get_user("lena@example.com")["name"]["givenName"] == "Helena")
            finally:
                live.stop()
    assert "deploy/syncprov.ldif" in caplog.text


def test_the_worker_process_schedules_and_pushes_until_sigterm(env):
    import signal
    import sys

    from app_google_sync.libraries.runtime.scheduler import scheduled_run

    env.directory.add_user("nora", "Nora", "Tester", groups=("google_apps_plugin",))
    sync(env)
    env.write_config(push_delay="0.2", automatic="yes", interval="60")
    command = [sys.executable, "-m", "app_google_sync.cli", "--config", str(env.config_path), "worker"]
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: scheduled_run(env.settings.sync.database) is not None, timeout=15)
        time.sleep(1.0)  # the watcher's first refresh
        env.directory.modify_user("nora", givenName="Eleanor")
        assert wait_for(lambda: env.emulator.get_user("nora@example.com")["name"]["givenName"] == "Eleanor", timeout=15)
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=20)[0].decode()
    assert worker.returncode == 0, output
