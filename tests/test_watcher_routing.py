"""How the watcher turns changed entries into pushes (no slapd needed: entries as syncrepl delivers them)."""

from app_google_sync.libraries.core.model import Link
from app_google_sync.libraries.directory.watcher import ChangeRouter, common_base
from app_google_sync.libraries.settings.config import GoogleSettings, LdapSettings, Settings
from app_google_sync.libraries.state.store import Store

SETTINGS = Settings(
    ldap=LdapSettings(
        users_dn="ou=Users,ou=Accounts,dc=example,dc=com", groups_dn="ou=Groups,ou=Accounts,dc=example,dc=com"
    ),
    google=GoogleSettings(domain="example.com", admin_email="admin@example.com"),
)
USER_DN = "cn=Alice Tester,ou=Users,ou=Accounts,dc=example,dc=com"
PLUGIN_DN = "cn=google_apps_plugin,ou=Groups,ou=Accounts,dc=example,dc=com"


def router(tmp_path, store=None):
    pushes = []
    store = store or Store(f"sqlite:///{tmp_path}/state.db")
    return ChangeRouter(SETTINGS, pushes.append, store), pushes, store


def test_watch_base_is_the_common_parent():
    assert common_base(SETTINGS.ldap.users_dn, SETTINGS.ldap.groups_dn) == "ou=Accounts,dc=example,dc=com"


def test_user_and_group_entries_become_pushes(tmp_path):
    route, pushes, _ = router(tmp_path)
    route.entry_changed(USER_DN, {"uid": [b"alice"]}, "uuid-1")
    route.entry_changed("cn=sales,ou=Groups,ou=Accounts,dc=example,dc=com", {"cn": [b"sales"]}, "uuid-2")
    route.entry_changed("cn=x,ou=Other,dc=example,dc=com", {"cn": [b"x"]}, "uuid-3")
    assert pushes == [("user", "alice", "uuid-1"), ("group", "sales")]


def test_the_google_apps_switch_pushes_exactly_the_users_who_flipped_even_after_a_restart(tmp_path):
    route, pushes, store = router(tmp_path)
    route.entry_changed(PLUGIN_DN, {"cn": [b"google_apps_plugin"], "memberUid": [b"alice", b"bob"]}, "u", push=False)
    assert pushes == []
    restarted, pushes, _ = router(tmp_path, store)
    restarted.entry_changed(PLUGIN_DN, {"cn": [b"google_apps_plugin"], "memberUid": [b"bob", b"carol"]}, "u")
    assert pushes == [("user", "alice", ""), ("user", "carol", "")]


def test_deleted_entries_push_only_managed_users(tmp_path):
    route, pushes, store = router(tmp_path)
    store.save_links([Link("user", "uuid-managed", "g1", "managed@example.com")])
    route.entries_deleted(["uuid-managed", "uuid-unknown"])
    assert pushes == [("user", "", "uuid-managed")]
