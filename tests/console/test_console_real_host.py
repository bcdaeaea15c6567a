"""The plugin inside the reference host console (app_google_sync.host), discovered through its entry point."""

import re

from console_helpers import add_people, text_of

from app_google_sync.host.plugins import console_state


def test_the_host_loads_the_plugin_from_its_entry_point(host):
    console = console_state(host)
    assert console.failures == []
    assert [entry.title for entry in console.menu if entry.endpoint == "google_sync.index"] == [
        "Google Apps Synchronization"
    ]
    assert [extension.name for extension in console.user_extensions] == ["google_apps"]


def test_an_anonymous_visitor_is_sent_to_the_hosts_login(host):
    response = host.test_client().get("/app/google_sync/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_plugin_pages_sit_in_the_hosts_layout(admin):
    response = admin.get("/app/google_sync/")
    page = response.get_data(as_text=True)
    text = text_of(response)
    assert "Server › Messaging and Collaboration › Google Apps Synchronization" in text
    assert '<a href="/app/google_sync/" class="active" aria-current="page">Google Apps Synchronization</a>' in page
    assert "console.css" in page and "google_sync.css" in page
    for path in ("settings", "check", "test", "automatic", "history", "objects"):
        assert admin.get(f"/app/google_sync/{path}").status_code == 200, path


def test_the_hosts_csrf_refusal_covers_plugin_forms(admin):
    response = admin.post("/app/google_sync/test")
    assert response.status_code == 400
    assert "This form has expired" in text_of(response)


def test_the_admin_warning_links_to_the_hosts_prefilled_new_user_form(admin):
    page = admin.post("/app/google_sync/test", data={"csrf_token": admin.token}).get_data(as_text=True)
    link = re.search(r'href="(/users/new\?[^"]+)"', page).group(1).replace("&amp;", "&")
    form = admin.get(link).get_data(as_text=True)
    assert 'id="f-uid" name="uid" value="admin"' in form
    assert re.search(r'name="switches" value="google_apps" checked', form)


def test_a_user_created_in_the_host_reaches_google_within_seconds(env, host, admin):
    form = {
        "csrf_token": admin.token,
        "uid": "nina",
        "given_name": "Nina",
        "family_name": "Simone",
        "password": "Feeling-Good-1965",
        "confirm": "Feeling-Good-1965",
        "switches": "google_apps",
    }
    response = admin.post("/users/new", data=form)
    assert response.status_code == 302, text_of(response)
    assert host.extensions["google_sync"].pushes.wait_idle(30)
    account = env.emulator.get_user("nina@example.com")
    assert (account["name"]["givenName"], account["name"]["familyName"]) == ("Nina", "Simone")
    assert env.emulator.check_password("nina@example.com", "Feeling-Good-1965")


def test_objects_and_history_after_a_sync_in_the_host(env, admin):
    add_people(env.directory, "alice")
    admin.post("/app/google_sync/test", data={"csrf_token": admin.token})
    location = admin.post("/app/google_sync/sync", data={"csrf_token": admin.token}).headers["Location"]
    admin.application.extensions["google_sync"].runs.join(30)
    assert "every change was applied" in text_of(admin.get(location))
    assert "alice Alice Tester alice@example.com On Synchronized" in text_of(admin.get("/app/google_sync/objects"))
