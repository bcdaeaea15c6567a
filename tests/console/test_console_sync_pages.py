"""Test connection, test synchronization, synchronize now, history, users and groups: against a real slapd and the emulator."""

import gzip
import re

from console_helpers import USER_PASSWORD, add_people, secrets_of, text_of, wait_for_run

from app_google_sync.libraries.settings import config_file
from app_google_sync.libraries.state.store import Store


def preview(console):
    response = console.post("/test")
    assert response.status_code == 200
    return response


def synchronize(console, **form):
    response = console.post("/sync", form)
    assert response.status_code == 302, text_of(response)
    location = response.headers["Location"]
    assert re.search(r"/app/google_sync/sync/[\w-]+$", location), location
    wait_for_run(console)
    return location


def emails(env):
    return {user["primaryEmail"] for user in env.emulator.users()}


def test_check_passes_every_line_and_hides_the_bind_password(env, console):
    response = console.post("/check")
    text = text_of(response)
    assert "All passed" in text
    for label in (
        "Directory (LDAP)",
        "Google token",
        "Users (admin.directory.user)",
        "Groups (admin.directory.group)",
        "Group members",
    ):
        assert label in text
    assert env.directory.sync_password not in response.get_data(as_text=True)


def test_check_names_the_failure_and_the_fix(env, console):
    env.emulator.authority.delegations.clear()  # the client ID lost its domain-wide delegation
    response = console.post("/check")
    text = text_of(response)
    assert "failed" in text and "Domain-wide delegation" in text
    assert "Directory (LDAP)" in text


def test_check_reports_a_wrong_bind_password_without_showing_it(env, console):
    config_file.update(str(env.config_path), "ldap", {"bind_password": "Wrong-Secret-77"})
    response = console.post("/check")
    text = text_of(response)
    assert "Directory (LDAP)" in text and "failed" in text
    assert "Wrong-Secret-77" not in response.get_data(as_text=True)


def test_check_tells_an_anonymous_bind_and_a_misspelt_group_apart(env, console):
    env.directory.add_group("sales")
    config_file.update(str(env.config_path), "sync", {"groups": "sales salse"})
    text = text_of(console.post("/check"))
    assert "Group names (groups)" in text and "[sync] groups names salse, which no group under" in text
    config_file.update(str(env.config_path), "ldap", {"bind_dn": "", "bind_password": ""})
    text = text_of(console.post("/check"))
    assert "is not visible to an anonymous bind" in text and "[ldap] bind_dn is empty" in text


def test_test_sync_shows_the_plan_table_and_the_admin_warning(env, console):
    add_people(env.directory, "alice", "bob")
    env.directory.add_group("sales", members=("alice", "bob"), description="Sales team")
    response = preview(console)
    page = response.get_data(as_text=True)
    text = text_of(response)
    assert "create user alice@example.com Alice Tester, password: SHA-1 hash from the directory" in text
    assert "create group sales@example.com" in text
    assert "add member sales@example.com ← alice@example.com" in text
    assert "The Google Apps administrator account admin@example.com cannot be suspended" in text
    assert (
        'href="/users/new?uid=admin&amp;mail=admin@example.com&amp;google_apps=on"' in page
    )  # the host's create-user page, prefilled
    assert "Synchronize now" in text
    assert not [call for call in env.emulator.calls if call["method"] != "GET"], "a test must not write to Google"
    with console.client.session_transaction() as session:
        checksum = session["google_sync_preview"]["checksum"]
    assert checksum in text


def test_the_admin_link_is_left_out_when_the_host_has_no_create_user_page(env, host_factory):
    from console_helpers import Console

    console = Console(host_factory(env.config_path, GOOGLE_SYNC_CREATE_USER_ENDPOINT="host.nowhere"))
    text = text_of(preview(console))
    assert "cannot be suspended" in text and "Create this user with Google Apps enabled" not in text


def test_field_changes_show_old_and_new_values(env, console):
    add_people(env.directory, "alice")
    preview(console)
    synchronize(console)
    env.directory.modify_user("alice", givenName="Alicia")
    page = preview(console).get_data(as_text=True)
    assert re.search(r"givenName</span> <del>Alice</del> &rarr; <ins>Alicia</ins>", page), page


def test_synchronize_now_applies_the_preview_and_lists_each_result(env, console):
    add_people(env.directory, "alice", "bob")
    env.directory.add_group("sales", members=("alice", "bob"))
    preview(console)
    location = synchronize(console)
    status = console.client.get(location + "/status").get_json()
    assert status["finished"] and status["outcome"] == "applied"
    assert status["done"] == status["total"] == 5 and status["counts"] == {"ok": 5, "failed": 0}
    page = console.client.get(location)
    text = text_of(page)
    assert "Synchronization complete: every change was applied." in text
    assert text.count("✓") == 5
    assert "create user alice@example.com done" in text
    assert {"alice@example.com", "bob@example.com"} <= emails(env)
    assert env.emulator.check_password("alice@example.com", USER_PASSWORD)
    with console.client.session_transaction() as session:
        assert "google_sync_preview" not in session  # the next run needs a new preview


def test_a_failed_object_shows_its_error_and_the_rest_apply(env, console):
    add_people(env.directory, "alice", "bob")
    env.emulator.add_group("bob@example.com", name="bob")  # Google refuses a user at a group's address
    preview(console)
    location = synchronize(console)
    text = text_of(console.client.get(location))
    assert "finished with errors" in text
    assert "✗" in text and "✓" in text


def test_synchronize_without_preview_asks_for_one(env, console):
    response = console.post("/sync")
    assert response.status_code == 302 and response.headers["Location"].endswith("/test")
    assert "Run the test synchronization first" in text_of(console.get("/test"))


def test_a_plan_that_changed_since_the_preview_is_not_applied(env, console):
    add_people(env.directory, "alice")
    preview(console)
    add_people(env.directory, "bob")
    location = synchronize(console)
    text = text_of(console.client.get(location))
    assert "Not applied: the plan changed since you previewed it." in text
    assert "run the test synchronization again" in text
    assert "Test synchronization again" in text
    assert "alice@example.com" not in emails(env)


def test_a_safety_refusal_is_shown_and_needs_confirmation(env, console):
    env.write_config(max_suspend="2")
    add_people(env.directory, "alice", "bob", "carol", "dave")
    preview(console)
    synchronize(console)
    for uid in ("alice", "bob", "carol"):
        env.directory.remove_from_group("google_apps_plugin", uid)
    text = text_of(preview(console))
    assert "A safety limit refuses this plan" in text
    assert "I have read the plan" in text
    response = console.post("/sync")
    assert response.status_code == 302 and response.headers["Location"].endswith("/test")
    assert all(not env.emulator.get_user(f"{uid}@example.com")["suspended"] for uid in ("alice", "bob", "carol"))
    location = synchronize(console, force="yes")
    assert "every change was applied" in text_of(console.client.get(location))
    assert all(env.emulator.get_user(f"{uid}@example.com")["suspended"] for uid in ("alice", "bob", "carol"))


def test_directory_data_with_markup_is_escaped(env, console):
    env.directory.add_user(
        "xss", "<script>alert(1)</script>", "<b>Bold</b>", password=USER_PASSWORD, groups=("google_apps_plugin",)
    )
    env.directory.add_group("team", members=("xss",), description="<img src=x onerror=alert(2)>")
    for response in (preview(console), console.get("/objects")):
        page = response.get_data(as_text=True)
        assert "<script>alert(1)" not in page and "<b>Bold</b>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_secret_reaches_any_page(env, console):
    add_people(env.directory, "alice")
    pages = [console.post("/check"), preview(console)]
    location = synchronize(console)
    pages += [console.client.get(location), console.client.get(location + "/status")]
    pages += [
        console.get(path)
        for path in ("/", "/settings", "/check", "/test", "/automatic", "/history", "/history/2", "/objects")
    ]
    for secret in secrets_of(env):
        for response in pages:
            assert secret not in response.get_data(as_text=True), (secret, response.request.path)


def test_history_lists_runs_and_each_runs_results(env, console):
    add_people(env.directory, "alice")
    preview(console)
    synchronize(console)
    text = text_of(console.get("/history"))
    assert re.search(r"#2 synchronization console .* Applied 1 ok", text), text
    assert re.search(r"#1 test console .* Changes pending", text), text
    detail = text_of(console.get("/history/2"))
    assert "Run #2 Applied" in detail and "create user alice@example.com done" in detail
    assert "A test writes nothing" in text_of(console.get("/history/1"))


def test_users_and_groups_show_each_objects_google_state(env, console):
    add_people(env.directory, "alice", "bob")
    add_people(env.directory, "mallory", groups=())
    env.directory.add_user("longname", "Long", "Name" * 20, password=USER_PASSWORD, groups=("google_apps_plugin",))
    env.directory.add_group("sales", members=("alice", "bob"), description="Sales team")
    text = text_of(console.get("/objects"))
    assert "alice Alice Tester alice@example.com On Pending create user" in text
    assert "mallory Mallory Tester mallory@example.com Off Google Apps off" in text
    assert "longname" in text and "Skipped skipped: surname is 80 characters long" in text
    assert "sales Sales team sales@example.com 2 Pending create group" in text
    preview(console)
    synchronize(console)
    env.directory.remove_from_group("google_apps_plugin", "bob")
    preview(console)
    synchronize(console, force="yes")  # 1 of 3 active accounts is above the 25% limit
    text = text_of(console.get("/objects"))
    assert re.search(r"alice Alice Tester alice@example.com On Synchronized \d{4}-\d\d-\d\d", text), text
    assert "bob Bob Tester bob@example.com Off Suspended Google Apps off: suspended, not deleted" in text
    assert re.search(r"sales Sales team sales@example.com 1 Synchronized", text), text


def test_users_and_groups_fall_back_to_the_last_run_when_google_is_unreachable(env, console):
    add_people(env.directory, "alice")
    preview(console)
    synchronize(console)
    config_file.update(str(env.config_path), "sync", {"max_retries": "1"})
    env.emulator.stop()
    assert "Google could not be read" not in text_of(
        console.get("/objects")
    )  # the view computed after the run: no read
    text = text_of(console.post("/objects/refresh", follow_redirects=True))
    assert "Google could not be read" in text
    assert "alice Alice Tester alice@example.com On Synchronized" in text and "as of the last run" in text


def test_overview_page_summarises_connection_schedule_and_runs(env, console):
    add_people(env.directory, "alice")
    preview(console)
    synchronize(console)
    text = text_of(console.get("/"))
    assert "Google domain example.com" in text and "Administrator admin@example.com" in text
    assert "Service account" in text and "Last synchronization" in text and "Applied" in text


def test_overview_shows_the_last_full_synchronization_apart_from_pushes(env, console):
    add_people(env.directory, "alice")
    preview(console)
    synchronize(console)
    store = Store(env.settings.sync.database)
    full = store.runs()[0]
    push = store.start_run("watch", dry_run=False)  # a watcher's push after the full run, which held its change
    store.finish_run(push, "held")
    page = console.get("/").get_data(as_text=True)
    last_sync = re.search(r'id="gs-last-sync">(.*?)</dd>', page, re.S).group(1)
    last_push = re.search(r'id="gs-last-push">(.*?)</dd>', page, re.S).group(1)
    assert f"/history/{full.id}" in last_sync and "Applied" in last_sync
    assert f"/history/{push}" in last_push and "Held" in last_push


def test_users_and_groups_show_the_kept_view_until_refreshed(env, console):
    add_people(env.directory, "alice")
    assert "alice" in text_of(console.get("/objects"))
    add_people(env.directory, "carol")
    text = text_of(console.get("/objects?q=carol"))
    assert "As computed" in text and "No user matches" in text  # a search reads no directory
    assert "carol Carol Tester carol@example.com On Pending" in text_of(
        console.post("/objects/refresh", data={"q": "carol"}, follow_redirects=True)
    )


def test_the_plan_pages_and_downloads_read_the_kept_plan_gzipped(env, console):
    add_people(env.directory, "alice", "bob")
    page = preview(console).get_data(as_text=True)
    checksum = re.search(r'gs-checksum">([0-9a-f]{16})<', page).group(1)
    env.emulator.stop()  # neither side is read again
    env.directory.stop_server()
    try:
        filtered = text_of(console.get(f"/test/{checksum}?action=create+user&q=bob"))
        assert "create user bob@example.com" in filtered and "alice@example.com" not in filtered
        response = console.get(f"/test/{checksum}/plan.csv", headers={"Accept-Encoding": "gzip"})
        assert response.headers["Content-Encoding"] == "gzip" and response.mimetype == "text/csv"
        rows = gzip.decompress(response.get_data()).decode().splitlines()
        assert rows[0] == "action,object,detail"
        assert sum(1 for row in rows if row.startswith("create user,")) == 2
        assert console.get("/test/0123456789abcdef").status_code == 302  # not kept: test again
    finally:
        env.directory.restart_server()
    static = console.get("/static/google_sync.css")
    assert static.headers["Cache-Control"] == "public, max-age=86400"
