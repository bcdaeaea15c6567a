"""Accounts that exist only in Google: listed, created locally through the host's create_user service, then linked, not duplicated."""

from console_helpers import text_of

from app_google_sync.libraries.state.store import Store

PREFIX = "/app/google_sync"


def post(client, path, data=None):
    return client.post(PREFIX + path, data={"csrf_token": client.token, **(data or {})})


def synchronize(host, client):
    assert post(client, "/test").status_code == 200
    response = post(client, "/sync")
    assert response.status_code == 302
    host.extensions["google_sync"].runs.join(30)
    return client.get(response.headers["Location"] + "/status").get_json()


def test_google_only_accounts_are_listed_with_their_names(env, admin):
    env.emulator.add_user("gina@example.com", "Gina", "Lollo")
    env.emulator.add_user("old@example.com", "Old", "Account", suspended=True)  # suspended: nothing to import
    env.directory.add_user("alice", "Alice", "Tester", mail="alice@example.com", groups=("google_apps_plugin",))
    text = text_of(post(admin, "/test"))
    assert "1 Google account exists only in Google and is left as it is. Create local accounts for them…" in text
    response = admin.get(PREFIX + "/import")
    text = text_of(response)
    assert "Accounts that exist only in Google 2" in text
    assert "admin@example.com" in text and "Administrator never suspended" in text
    assert "gina@example.com Gina Lollo" in text
    assert "old@example.com" not in text and "alice@example.com" not in text
    page = response.get_data(as_text=True)
    assert 'name="uid:gina@example.com" value="gina"' in page
    assert "Create local accounts" in text


def test_importing_creates_local_users_that_the_next_sync_links_instead_of_duplicating(env, host, admin):
    gina = env.emulator.add_user("gina@example.com", "Gina", "Lollo", password="Gina-Google-Pass-1")
    admin_id = env.emulator.get_user("admin@example.com")["id"]
    response = post(
        admin, "/import", {"pick": ["gina@example.com", "admin@example.com"], "uid:admin@example.com": "boss"}
    )
    assert response.status_code == 302
    text = text_of(admin.get(PREFIX + "/import"))
    assert "Created 2 local accounts with Google Apps on: boss, gina. No password until you set one" in text
    assert "Every active Google account has a local user." in text
    for uid in ("gina", "boss"):
        entry = env.directory.user_entry(uid)
        assert "userPassword" not in entry and "clearSHA1Password" not in entry
        assert uid.encode() in env.directory.group_entry("google_apps_plugin")["memberUid"]
    assert env.directory.user_entry("gina")["mail"] == [b"gina@example.com"]
    assert host.extensions["google_sync"].pushes.wait_idle(30)  # the host told the plugin: each new user is pushed

    plan = text_of(post(admin, "/test"))
    assert "create user" not in plan and "cannot be suspended" not in plan
    status = synchronize(host, admin)
    assert status["outcome"] in ("in_sync", "applied"), status
    assert env.emulator.get_user("gina@example.com")["id"] == gina["id"]
    assert env.emulator.get_user("admin@example.com")["id"] == admin_id
    assert len([user for user in env.emulator.users() if user["primaryEmail"] == "gina@example.com"]) == 1
    links = {link.email: link for link in Store(env.settings.sync.database).links().links}
    assert links["gina@example.com"].google_id == gina["id"] and not links["gina@example.com"].created_by_us
    env.emulator.reset_calls()
    assert synchronize(host, admin)["outcome"] == "in_sync"
    assert env.emulator.write_calls() == []
    assert env.emulator.check_password("gina@example.com", "Gina-Google-Pass-1")  # Google's own password stays


def test_a_refused_account_is_named_and_the_others_are_created(env, admin):
    env.emulator.add_user("gina@example.com", "Gina", "Lollo")
    env.emulator.add_user("hank@example.com", "Hank", "Hill")
    env.directory.add_user("hank", "Henry", "Local", mail="henry@example.com")  # the username is taken
    post(admin, "/import", {"pick": ["gina@example.com", "hank@example.com"], "uid:gina@example.com": "Gina!"})
    text = text_of(admin.get(PREFIX + "/import"))
    assert "gina@example.com was not created: A username starts with a lowercase letter" in text
    assert "hank@example.com was not created: The username 'hank' is already taken." in text
    post(admin, "/import", {"pick": ["gina@example.com"], "uid:gina@example.com": "gina"})
    assert "Created 1 local account with Google Apps on: gina." in text_of(admin.get(PREFIX + "/import"))


def test_an_account_that_is_no_longer_google_only_is_left_alone(env, admin):
    post(admin, "/import", {"pick": ["nobody@example.com"]})
    assert "No longer only in Google, left alone: nobody@example.com." in text_of(admin.get(PREFIX + "/import"))
    assert post(admin, "/import").status_code == 302
    assert "Tick the accounts to create locally first." in text_of(admin.get(PREFIX + "/import"))


def test_values_google_holds_in_mapped_fields_are_pointed_out(env, admin):
    env.emulator.add_user("gina@example.com", "Gina", "Lollo", organizations=[{"primary": True, "title": "CEO"}])
    text = text_of(admin.get(PREFIX + "/import"))
    assert (
        "Google holds job title CEO : the local user starts without it, so the next synchronization would clear it."
        in text
    )


def test_markup_in_google_names_is_escaped(env, admin):
    env.emulator.add_user("xss@example.com", "<script>alert(1)</script>", "<b>Bold</b>")
    page = admin.get(PREFIX + "/import").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<b>Bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_host_without_the_service_gets_links_to_its_prefilled_form(env, console):
    env.emulator.add_user("gina@example.com", "Gina", "Lollo")
    response = console.get("/import")
    page = response.get_data(as_text=True)
    assert (
        'href="/users/new?uid=gina&amp;given_name=Gina&amp;family_name=Lollo&amp;mail=gina@example.com&amp;google_apps=on"'
        in page
    )
    assert "Create in the user manager" in text_of(response) and 'name="pick"' not in page
    refused = console.post("/import", {"pick": ["gina@example.com"]})
    assert refused.status_code == 302
    assert "This console cannot create users for the plugin" in text_of(console.get("/import"))


def test_incomplete_settings_or_unreachable_google_are_explained(env, fresh_console, console):
    assert "Complete the settings first" in text_of(fresh_console.get("/import"))
    env.emulator.authority.delegations.clear()
    assert "The accounts could not be listed" in text_of(console.get("/import"))
