"""LdapSource against a real slapd (DemoDirectory): what it reads, and that it never reads half."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
from pathlib import Path

import ldap
import ldap.ldapobject
import ldap.syncrepl
import pytest
from slapdtest._slapdtest import HAVE_LDAPI

from app_google_sync.demo.directory import DemoDirectory, hash_password, paged_only_limits, seed_sample_organisation
from app_google_sync.libraries.core.errors import SourceError
from app_google_sync.libraries.directory.ldap_source import LdapSource

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SIZE_LIMIT = 50
MANY_USERS = 120


def read(settings):
    with LdapSource(settings) as source:
        return source.read_state()


def by_uid(state):
    return {user.uid: user for user in state.users}


def by_name(state):
    return {group.name: group for group in state.groups}


def deploy_ldif(name: str, suffix: str) -> str:
    return (DEPLOY / name).read_text(encoding="utf-8").replace("dc=example,dc=com", suffix)


# --- what is read ---------------------------------------------------------------


def test_user_is_read_with_every_field(directory, ldap_settings):
    dn = directory.add_user("alice", "Alice", "Martin", password="Secret-1", mail="alice@example.com")
    directory.add_group("google_apps_plugin", members=["alice"])

    state = read(ldap_settings)

    (alice,) = state.users
    assert alice.uuid == directory.user_entry("alice")["entryUUID"][0].decode()
    assert (alice.dn, alice.uid, alice.given_name, alice.family_name, alice.mail) == (
        dn,
        "alice",
        "Alice",
        "Martin",
        "alice@example.com",
    )
    assert alice.in_scope and not alice.locked
    assert alice.password.hash_function == "SHA-1"
    assert alice.password.value == hashlib.sha1(b"Secret-1").hexdigest()
    assert alice.password_problem == ""


def test_user_without_mail_or_password(directory, ldap_settings):
    directory.add_user("bob", "Bob", "Dupont")
    directory.add_group("google_apps_plugin", members=["bob"])

    (bob,) = read(ldap_settings).users

    assert bob.mail == ""
    assert bob.password is None and bob.password_problem


def test_crypt_password_is_read_from_user_password(directory, ldap_settings):
    directory.add_user("carol", "Carol", "Nguyen", password="Secret-1", password_scheme="{CRYPT}$6$")
    directory.modify_user("carol", clearSHA1Password=None)
    directory.add_group("google_apps_plugin", members=["carol"])

    (carol,) = read(ldap_settings).users

    assert carol.password.hash_function == "crypt"
    assert carol.password.value.startswith("$6$")


def test_no_password_attributes_means_no_password_and_no_problem(directory, ldap_settings):
    directory.add_user("alice", "Alice", "Martin", password="Secret-1")
    directory.add_group("google_apps_plugin", members=["alice"])

    (alice,) = read(directory.settings(password_attributes=())).users

    assert (alice.password, alice.password_problem) == (None, "")


def test_non_ascii_names_are_intact(directory, ldap_settings):
    dn = directory.add_user("zoe", "Zoë", "Çelik", mail="zoe@example.com", groups=())
    directory.add_group("google_apps_plugin", members=["zoe"], group_of_names=True)
    directory.add_group("équipe", members=["zoe"], description="Équipe de développement")

    state = read(ldap_settings)

    zoe = by_uid(state)["zoe"]
    assert (zoe.given_name, zoe.family_name, zoe.dn) == ("Zoë", "Çelik", dn)
    assert zoe.in_scope
    assert by_name(state)["équipe"].description == "Équipe de développement"
    with LdapSource(ldap_settings) as source:
        assert source.read_user("zoe") == zoe


def test_groups_are_read_with_members_from_member_uid_and_member_dn(directory, ldap_settings):
    for uid, given in (("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")):
        directory.add_user(uid, given, "Smith")
    directory.add_group("google_apps_plugin", members=["alice", "bob", "carol"])
    directory.add_group("sales", members=["alice", "bob"], description="Sales team", group_of_names=True)
    directory.add_group("engineering", members=["carol"])
    directory.add_group("empty", group_of_names=True)
    directory.add_group_of_names("board", [directory.user_dn("bob"), directory.user_dn("carol").upper()])
    directory.add_group("press", mail="press@example.com")

    groups = by_name(read(ldap_settings))

    assert set(groups) == {"sales", "engineering", "empty", "board", "press"}
    sales = groups["sales"]
    assert sales.member_uids == {"alice", "bob"}
    assert sales.description == "Sales team"
    assert sales.dn == directory.group_dn("sales")
    assert sales.uuid == directory.group_entry("sales")["entryUUID"][0].decode()
    assert groups["engineering"].member_uids == {"carol"}
    assert groups["empty"].member_uids == frozenset()  # only the "cn=No Members" placeholder
    assert groups["board"].member_uids == {"bob", "carol"}  # member DNs only, any case
    assert groups["press"].mail == "press@example.com"


def test_group_member_uids_follow_a_rename(directory, ldap_settings):
    directory.add_user("alice", "Alice", "Martin", groups=())
    directory.add_group("google_apps_plugin", members=["alice"])
    directory.add_group("sales", members=["alice"], group_of_names=True)
    before = by_uid(read(ldap_settings))["alice"]

    directory.rename_user("alice", "amartin")
    state = read(ldap_settings)

    assert set(by_uid(state)) == {"amartin"}
    assert by_uid(state)["amartin"].uuid == before.uuid
    assert by_name(state)["sales"].member_uids == {"amartin"}
    with LdapSource(ldap_settings) as source:
        assert source.read_user_by_uuid(before.uuid).uid == "amartin"
        assert source.read_user("alice") is None


# --- scope, locks, reserved names ---------------------------------------------------------


def test_in_scope_by_member_uid_of_enabled_group(directory, ldap_settings):
    directory.add_user("alice", "Alice", "Martin")
    directory.add_user("bob", "Bob", "Dupont")
    directory.add_group("google_apps_plugin", members=["alice"])

    users = by_uid(read(ldap_settings))

    assert users["alice"].in_scope and not users["bob"].in_scope


def test_in_scope_by_member_dn_of_enabled_group(directory, ldap_settings):
    directory.add_user("alice", "Alice", "Martin")
    directory.add_user("bob", "Bob", "Dupont")
    directory.add_group_of_names("google_apps_plugin", [directory.user_dn("bob")])

    users = by_uid(read(ldap_settings))

    assert users["bob"].in_scope and not users["alice"].in_scope
    with LdapSource(ldap_settings) as source:
        assert source.read_user("bob").in_scope
        assert not source.read_user("alice").in_scope


def test_everyone_is_in_scope_without_enabled_group(directory):
    directory.add_user("alice", "Alice", "Martin")

    (alice,) = read(directory.settings(enabled_group="")).users

    assert alice.in_scope


def test_missing_enabled_group_is_an_error_not_an_empty_scope(directory, ldap_settings):
    directory.add_user("alice", "Alice", "Martin")

    with pytest.raises(SourceError, match="enabled_group 'google_apps_plugin' not found.*enabled_group ="):
        read(ldap_settings)
    with LdapSource(ldap_settings) as source, pytest.raises(SourceError, match="google_apps_plugin"):
        source.read_user("alice")


def test_locked_users_match_disabled_filter(directory, ldap_settings):
    directory.add_user("alice", "Alice", "Martin", locked=True)
    directory.add_user("bob", "Bob", "Dupont")
    directory.add_group("google_apps_plugin", members=["alice", "bob"])

    users = by_uid(read(ldap_settings))
    assert users["alice"].locked and not users["bob"].locked

    directory.set_locked("alice", False)
    directory.set_locked("bob", True)
    users = by_uid(read(ldap_settings))
    assert users["bob"].locked and not users["alice"].locked
    with LdapSource(ldap_settings) as source:
        assert source.read_user("bob").locked
        assert not source.read_user("alice").locked


def test_custom_disabled_filter(directory):
    directory.add_user("alice", "Alice", "Martin", extra_attrs={"clearAccountStatus": "suspended"})
    directory.add_user("bob", "Bob", "Dupont")
    directory.add_group("google_apps_plugin", members=["alice", "bob"])

    users = by_uid(read(directory.settings(disabled_filter="(clearAccountStatus=suspended)")))

    assert users["alice"].locked and not users["bob"].locked
    assert not any(user.locked for user in read(directory.settings(disabled_filter="")).users)


def test_reserved_users_and_groups_and_plugin_switches_are_skipped(directory, ldap_settings):
    directory.add_user("winadmin", "Windows", "Administrator")
    directory.add_user("alice", "Alice", "Martin")
    for name in ("allusers", "guests", "google_apps_plugin", "web_proxy_plugin", "sales"):
        directory.add_group(name, members=["alice", "winadmin"])

    state = read(ldap_settings)

    assert [user.uid for user in state.users] == ["alice"]
    assert [group.name for group in state.groups] == ["sales"]
    with LdapSource(ldap_settings) as source:
        assert source.read_user("winadmin") is None
        assert source.read_group("allusers") is None
        assert source.read_group("web_proxy_plugin") is None
        assert source.read_group("sales").member_uids == {"alice", "winadmin"}


def test_sample_organisation(directory, ldap_settings):
    seed_sample_organisation(directory)

    state = read(ldap_settings)

    users = by_uid(state)
    assert "winadmin" not in users
    assert {uid for uid, user in users.items() if not user.in_scope} == {"judy", "mallory"}
    assert {uid for uid, user in users.items() if user.locked} == {"grace"}
    assert users["zoe"].given_name == "Zoë"
    assert len(users["ivan"].family_name) > 60
    assert users["heidi"].password is None
    assert set(by_name(state)) == {"sales", "engineering", "management"}


# --- targeted reads and escaping ----------------------------------------------------------------


def test_read_user_and_group_match_the_full_read(directory, ldap_settings):
    seed_sample_organisation(directory)
    state = read(ldap_settings)

    with LdapSource(ldap_settings) as source:
        for user in state.users:
            assert source.read_user(user.uid) == user
            assert source.read_user_by_uuid(user.uuid) == user
        for group in state.groups:
            assert source.read_group(group.name) == group
        assert source.read_user("nobody") is None
        assert source.read_group("nothing") is None


@pytest.mark.parametrize("hostile", ["a*)(uid=*", "*", "alice)(|(uid=*", "\\2a", "al*"])
def test_filter_characters_in_names_are_escaped(directory, ldap_settings, hostile):
    directory.add_user("alice", "Alice", "Martin")
    directory.add_user("bob", "Bob", "Dupont")
    directory.add_group("google_apps_plugin", members=["alice", "bob"])
    directory.add_group("sales", members=["alice"])

    with LdapSource(ldap_settings) as source:
        assert source.read_user(hostile) is None
        assert source.read_user_by_uuid(hostile) is None
        assert source.read_group(hostile) is None


def test_uid_with_filter_characters_is_found_exactly(directory, ldap_settings):
    directory.add_user("a*)(uid=*", "Odd", "Name")
    directory.add_user("alice", "Alice", "Martin")
    directory.add_group("google_apps_plugin", members=["a*)(uid=*", "alice"])

    with LdapSource(ldap_settings) as source:
        assert source.read_user("a*)(uid=*").given_name == "Odd"


# --- size limit and paging -------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_directory():
    """A slapd answering at most SIZE_LIMIT entries per search, holding MANY_USERS users."""
    with DemoDirectory(size_limit=SIZE_LIMIT, sync_limits=paged_only_limits(SIZE_LIMIT)) as server:
        uids = [f"user{number:03}" for number in range(MANY_USERS)]
        for number, uid in enumerate(uids):
            server.add_user(uid, "User", f"Number {number}", password="Secret-1")
        server.add_group("google_apps_plugin", members=uids)
        server.add_group("everyone", members=uids, group_of_names=True)
        yield server


@pytest.fixture
def limited(big_directory):
    yield big_directory
    big_directory.set_sync_limits(paged_only_limits(SIZE_LIMIT))


def plain_search_as_sync_account(server):
    connection = ldap.initialize(server.ldap_uri)
    connection.simple_bind_s(server.sync_dn, server.sync_password)
    try:
        return connection.search_s(server.users_dn, ldap.SCOPE_ONELEVEL, "(objectClass=posixAccount)", ["1.1"])
    finally:
        connection.unbind_s()


def test_paged_read_goes_past_the_size_limit(limited):
    with pytest.raises(ldap.SIZELIMIT_EXCEEDED):
        plain_search_as_sync_account(limited)  # the limit bites anything that does not page

    for page_size in (20, 500):
        state = read(limited.settings(page_size=page_size))
        assert len(state.users) == MANY_USERS
        assert all(user.in_scope for user in state.users)
        assert len(by_name(state)["everyone"].member_uids) == MANY_USERS


def test_size_limit_exceeded_is_an_error_naming_the_fix(limited):
    limited.set_sync_limits("")

    with pytest.raises(SourceError, match="size limit exceeded.*cn=sync,ou=Internal.*deploy/sync-account-limits.ldif"):
        read(limited.settings(page_size=20))


def test_deploy_sync_account_limits_ldif_lifts_the_limit(limited):
    limited.set_sync_limits("")
    limited.ldapmodify(deploy_ldif("sync-account-limits.ldif", limited.suffix))

    assert len(plain_search_as_sync_account(limited)) == MANY_USERS
    assert len(read(limited.settings()).users) == MANY_USERS


def test_a_page_lost_mid_read_is_an_error_never_a_partial_state(directory, ldap_settings, monkeypatch):
    uids = [f"user{number:02}" for number in range(30)]
    for number, uid in enumerate(uids):
        directory.add_user(uid, "User", f"Number {number}")
    directory.add_group("google_apps_plugin", members=uids)
    original = ldap.ldapobject.SimpleLDAPObject.result3
    pages = []

    def stop_slapd_after_first_page(connection, *args, **kwargs):
        result = original(connection, *args, **kwargs)
        if result[0] == ldap.RES_SEARCH_RESULT and not pages:
            pages.append(len(result[1]))
            directory.stop_server()
        return result

    monkeypatch.setattr(ldap.ldapobject.SimpleLDAPObject, "result3", stop_slapd_after_first_page)
    with pytest.raises(SourceError, match="cannot reach"):
        read(directory.settings(page_size=10))
    assert pages == [10]


# --- connection problems ------------------------------------------------------------------------


def test_server_down_is_an_error_and_the_source_recovers(directory, ldap_settings):
    directory.add_user("alice", "Alice", "Martin")
    directory.add_group("google_apps_plugin", members=["alice"])
    with LdapSource(ldap_settings) as source:
        assert len(source.read_state().users) == 1

        directory.stop_server()
        with pytest.raises(SourceError, match=r"cannot reach ldap://127\.0\.0\.1:\d+.*is slapd running.*\[ldap\] uri"):
            source.read_state()
        with pytest.raises(SourceError, match="cannot reach"):
            source.read_user("alice")
        with pytest.raises(SourceError, match="cannot reach"):
            source.check()

        directory.restart_server()
        assert len(source.read_state().users) == 1


def test_a_server_that_hangs_is_an_error_after_the_timeout(directory):
    directory.add_group("google_apps_plugin")
    os.kill(directory.pid, signal.SIGSTOP)
    try:
        with pytest.raises(SourceError, match=r"did not finish .* within 1 s.*\[ldap\] timeout"):
            read(directory.settings(timeout=1))
    finally:
        os.kill(directory.pid, signal.SIGCONT)


def test_wrong_password_is_an_error_naming_the_setting(directory):
    with pytest.raises(SourceError, match="refused the bind as cn=sync.*bind_password"):
        read(directory.settings(bind_password="wrong"))


def test_missing_users_dn_is_an_error_naming_the_setting(directory):
    missing = f"ou=People,{directory.suffix}"
    with pytest.raises(SourceError, match=f"{missing} does not exist.*\\[ldap\\] users_dn"):
        read(directory.settings(users_dn=missing))


def test_bad_filter_is_an_error_naming_the_setting(directory):
    directory.add_group("google_apps_plugin")
    with pytest.raises(SourceError, match="rejected the filter.*user_filter"):
        read(directory.settings(user_filter="(objectClass=posixAccount)(uid=x)"))


def test_check_reports_what_it_found(directory, ldap_settings):
    directory.add_user("alice", "Alice", "Martin")
    with LdapSource(ldap_settings) as source, pytest.raises(SourceError, match="enabled_group"):
        source.check()

    directory.add_group("google_apps_plugin", members=["alice"])
    with LdapSource(ldap_settings) as source:
        findings = source.check()
    assert findings[0] == f"connected to {directory.uri} as dn:{directory.sync_dn}"
    assert any("users_dn" in line and "entries found" in line for line in findings)


@pytest.mark.skipif(not HAVE_LDAPI or not ldap.SASL_AVAIL, reason="needs AF_UNIX sockets and libldap with SASL")
def test_ldapi_with_sasl_external(directory):
    directory.add_user("alice", "Alice", "Martin", password="Secret-1")
    directory.add_group("google_apps_plugin", members=["alice"])
    # slapdtest maps this process's uid/gid on ldapi:// to the rootDN.
    settings = directory.settings(uri=directory.ldapi_uri, bind_dn="", bind_password="")

    with LdapSource(settings) as source:
        assert source.check()[0] == f"connected to {directory.ldapi_uri} as dn:{directory.root_dn.lower()}"
        (alice,) = source.read_state().users
    assert alice.uid == "alice" and alice.password is not None


@pytest.mark.parametrize("tls", ["ldaps", "start_tls"])
def test_tls_with_ca_file(directory, tls):
    directory.add_user("alice", "Alice", "Martin")
    directory.add_group("google_apps_plugin", members=["alice"])
    if tls == "ldaps":
        settings = directory.settings(uri=directory.ldaps_uri, ca_file=directory.cafile)
    else:
        settings = directory.settings(start_tls=True, ca_file=directory.cafile)

    assert [user.uid for user in read(settings).users] == ["alice"]


def test_untrusted_server_certificate_is_an_error_naming_ca_file(directory):
    with pytest.raises(SourceError, match="ca_file"):
        read(directory.settings(uri=directory.ldaps_uri))
    with pytest.raises(SourceError, match="ca_file"):
        read(directory.settings(start_tls=True))


# --- deploy/ LDIF ----------------------------------------------------------------------------------


class _Consumer(ldap.syncrepl.SyncreplConsumer, ldap.ldapobject.SimpleLDAPObject):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.uuids = []
        self.cookie = None

    def syncrepl_get_cookie(self):
        return self.cookie

    def syncrepl_set_cookie(self, cookie):
        self.cookie = cookie

    def syncrepl_entry(self, dn, attributes, uuid):
        self.uuids.append(uuid)


def refresh(server) -> list[str]:
    consumer = _Consumer(server.ldap_uri)
    consumer.simple_bind_s(server.sync_dn, server.sync_password)
    try:
        message = consumer.syncrepl_search(
            server.users_dn, ldap.SCOPE_SUBTREE, mode="refreshOnly", filterstr="(objectClass=posixAccount)"
        )
        while consumer.syncrepl_poll(msgid=message, timeout=5):
            pass
        return consumer.uuids
    finally:
        consumer.unbind_s()


def test_deploy_syncprov_ldif_enables_content_synchronization():
    with DemoDirectory(syncprov=False) as server:
        server.add_user("alice", "Alice", "Martin")
        with pytest.raises(ldap.LDAPError):
            refresh(server)

        server.ldapmodify(deploy_ldif("syncprov.ldif", server.suffix))

        assert len(refresh(server)) == 1


def test_demo_directory_has_syncprov(directory):
    directory.add_user("alice", "Alice", "Martin")
    assert len(refresh(directory)) == 1


def test_deploy_sync_account_ldif_grants_read_of_passwords(directory):
    directory.add_user("alice", "Alice", "Martin", password="Secret-1")
    directory.add_group("google_apps_plugin", members=["alice"])
    reader = f"cn=reader,{directory.internal_dn}"
    ldif = deploy_ldif("sync-account.ldif", directory.suffix).replace("cn=sync,", "cn=reader,")
    ldif = ldif.replace("{SSHA}REPLACE-WITH-SLAPPASSWD-OUTPUT", hash_password("reader-password", "{SSHA}"))
    settings = directory.settings(bind_dn=reader, bind_password="reader-password")
    database = "olcDatabase={1}mdb,cn=config"
    access = directory.admin().search_s(database, ldap.SCOPE_BASE, attrlist=["olcAccess"])[0][1]["olcAccess"]
    directory.add_entry(
        reader, {"objectClass": ["applicationProcess", "simpleSecurityObject"], "userPassword": "reader-password"}
    )
    try:
        (alice,) = read(settings).users
        assert alice.password is None  # an ordinary account sees no password hash
        directory.admin().delete_s(reader)

        directory.ldapmodify(ldif)

        (alice,) = read(settings).users
        assert alice.password.value == hashlib.sha1(b"Secret-1").hexdigest()
    finally:
        directory.admin().modify_s(database, [(ldap.MOD_REPLACE, "olcAccess", access)])
        with contextlib.suppress(ldap.NO_SUCH_OBJECT):
            directory.admin().delete_s(reader)
