"""The services the host offers plugins in app.extensions["console"]: create_user."""

import pytest
from host_helpers import host_config

from app_google_sync.host import create_app


def create_user(app, *args, **kwargs):
    with app.test_request_context():
        return app.extensions["console"].create_user(*args, **kwargs)


def test_a_plugin_creates_a_user_without_password_with_its_switch_on(app, directory, extension):
    dn = create_user(app, "gina", "Gina", "Lollo", "gina@example.com", groups=("google_apps_plugin",), password=None)
    assert dn == directory.user_dn("gina")
    entry = directory.user_entry("gina")
    assert entry["mail"] == [b"gina@example.com"] and entry["givenName"] == [b"Gina"] and entry["sn"] == [b"Lollo"]
    assert "userPassword" not in entry and "clearSHA1Password" not in entry
    plugin_group = directory.group_entry("google_apps_plugin")
    assert plugin_group["memberUid"] == [b"gina"]
    assert plugin_group["description"] == [b"Google Apps - Plugin"]  # created for the switch, as the form does
    assert extension.calls == [("user_added", "gina")]


def test_a_password_is_stored_as_the_form_stores_it(app, directory, extension):
    create_user(app, "hank", "Hank", "Hill", "hank@example.com", password="Propane-2024")
    entry = directory.user_entry("hank")
    assert entry["userPassword"][0].startswith(b"{SHA}") and len(entry["clearSHA1Password"][0]) == 40


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("Gina", "Gina", "Lollo", "g@example.com"), {}, "A username starts with a lowercase letter"),
        (("gina", "", "Lollo", "g@example.com"), {}, "First name is required"),
        (("gina", "Gina", "Lollo", "not-an-address"), {}, "valid email address"),
        (("gina", "Gina", "Lollo", "g@example.com"), {"groups": ("nowhere",)}, "There is no group 'nowhere'"),
        (("gina", "Gina", "Lollo", "g@example.com"), {"groups": ("allusers",)}, "There is no group 'allusers'"),
        (("gina", "Gina", "Lollo", "g@example.com"), {"password": "short"}, "at least 8 characters"),
        (
            ("gina", "Gina", "Lollo", "g@example.com"),
            {"password": "Nul\x00-in-password"},
            "cannot hold control characters",
        ),
    ],
)
def test_bad_requests_raise_value_error_and_create_nothing(app, directory, extension, args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_user(app, *args, **kwargs)
    with pytest.raises(KeyError):
        directory.user_dn("gina")
    assert extension.calls == []


def test_a_taken_username_is_refused(app, directory, extension):
    create_user(app, "gina", "Gina", "Lollo", "gina@example.com")
    with pytest.raises(ValueError, match="already taken"):
        create_user(app, "gina", "Other", "Person", "other@example.com")
    assert extension.calls == [("user_added", "gina")]


def test_ordinary_groups_are_joined(app, directory):
    directory.add_group("sales")
    create_user(app, "gina", "Gina", "Lollo", "gina@example.com", groups=("sales",))
    assert directory.group_entry("sales")["memberUid"] == [b"gina"]


def test_a_host_without_a_directory_offers_no_service(directory):
    app = create_app(host_config(directory, CONSOLE_LDAP_URI=None))
    assert app.extensions["console"].create_user is None
