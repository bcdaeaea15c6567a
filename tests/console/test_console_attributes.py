"""The Attributes page: which Google fields the directory fills, and organizational units (real slapd + emulator)."""

import re

from console_helpers import text_of, wait_for_run

from app_google_sync.libraries.settings import config

ALL_ON = {
    "on_title": "yes",
    "attr_title": "title",
    "on_department": "yes",
    "attr_department": "departmentNumber",
    "on_phone": "yes",
    "attr_phone": "telephoneNumber",
    "on_mobile": "yes",
    "attr_mobile": "mobile",
    "on_employee_id": "yes",
    "attr_employee_id": "employeeNumber",
    "on_aliases": "yes",
    "attr_aliases": "mailLocalAddress",
}


def without(*keys, **changes):
    form = {
        key: value for key, value in ALL_ON.items() if key.partition("_")[2] not in keys or not key.startswith("on_")
    }
    return {**form, **changes}


def add_staff(env, uid="alice"):
    attributes = {
        "title": "Engineer",
        "departmentNumber": "R&D",
        "telephoneNumber": "+1 555 0100",
        "mobile": "+1 555 0199",
        "employeeNumber": "E-042",
    }
    env.directory.add_user(
        uid,
        uid.capitalize(),
        "Tester",
        mail=f"{uid}@example.com",
        groups=("google_apps_plugin",),
        extra_attrs=attributes,
    )


def test_the_page_shows_each_google_field_with_its_ldap_attribute(env, console):
    response = console.get("/attributes")
    text = text_of(response)
    assert "6 of 8 on" in text and "A field switched off is never touched in Google" in text
    for label, google in (
        ("Job title", "organizations[primary].title"),
        ("Department", "organizations[primary].department"),
        ("Work phone", "phones[type=work]"),
        ("Mobile phone", "phones[type=mobile]"),
        ("Employee ID", "externalIds[type=organization]"),
        ("Email aliases", "aliases"),
    ):
        assert re.search(re.escape(label) + r" .*" + re.escape(google), text), label
    page = response.get_data(as_text=True)
    assert 'name="attr_department" id="gs-attr-department" class="mono gs-attr" value="departmentNumber"' in page


def test_saving_writes_the_attributes_section_and_keeps_comments(env, console):
    with open(env.config_path, "a") as handle:
        handle.write("\n[attributes]\n# mobile numbers are private here\nmobile =\n")
    page = console.get("/attributes").get_data(as_text=True)
    assert re.search(
        r'<tr class="gs-row-off">\s*<td class="nowrap"><label class="switch"><input type="checkbox" name="on_mobile"',
        page,
    )
    response = console.post("/attributes", without("title", "mobile", attr_phone="homePhone"))
    assert response.status_code == 302
    written = env.config_path.read_text()
    assert "# mobile numbers are private here" in written
    attributes = config.load(str(env.config_path)).attributes
    assert (attributes.title, attributes.mobile, attributes.phone, attributes.department) == (
        "",
        "",
        "homePhone",
        "departmentNumber",
    )
    text = text_of(console.get("/attributes"))
    assert "Switched off, never touched in Google: Job title, Mobile phone, Manager, Photo." in text
    assert "4 of 8 on" in text and "Run the test synchronization" not in text  # the flash was shown on the redirect
    assert "Run the test synchronization" in text_of(console.get("/attributes?saved=1"))


def test_a_bad_attribute_name_is_refused_naming_the_field(env, console):
    before = env.config_path.read_text()
    response = console.post(
        "/attributes", without(attr_phone="telephone number", attr_title="<script>x</script>", attr_mobile="")
    )
    assert response.status_code == 400
    text = text_of(response)
    assert "Nothing was saved" in text
    assert "[attributes] phone = 'telephone number': give an LDAP attribute name" in text
    assert "[attributes] mobile: give the LDAP attribute, or switch the field off" in text
    page = response.get_data(as_text=True)
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert env.config_path.read_text() == before


def test_a_field_switched_off_is_left_untouched_in_google(env, console):
    env.emulator.add_user(
        "alice@example.com",
        "Alice",
        "Tester",
        phones=[{"type": "work", "value": "+44 20 0000"}],
        organizations=[{"primary": True, "title": "Set in Google"}],
    )
    add_staff(env)
    console.post("/attributes", without("title"))
    plan = text_of(console.post("/test"))
    assert "adopt user alice@example.com" in plan and "department" in plan
    assert "Set in Google" not in plan and "Engineer" not in plan
    console.post("/sync")
    wait_for_run(console)
    alice = env.emulator.get_user("alice@example.com")
    assert alice["organizations"][0]["title"] == "Set in Google" and alice["organizations"][0]["department"] == "R&D"
    assert {"type": "work", "value": "+1 555 0100"} in alice["phones"]
    env.directory.modify_user("alice", title="Lead Engineer")
    assert "in step" in text_of(console.post("/test")).lower()


def test_org_units_are_saved_validated_and_ask_for_their_scope(env, console):
    page = console.get("/attributes").get_data(as_text=True)
    assert re.search(r'name="org_units" value="" checked', page)
    assert "admin.directory.orgunit" not in console.get("/settings").get_data(as_text=True)

    response = console.post("/attributes/org-units", {"org_units": "dn", "org_unit_root": "Staff/"})
    assert response.status_code == 302
    sync = config.load(str(env.config_path)).sync
    assert (sync.org_units, sync.org_unit_root) == ("dn", "/Staff")
    text = text_of(console.get("/attributes"))
    assert "Organizational units saved: users go under /Staff." in text
    assert "Organizational units need the admin.directory.orgunit scope" in text
    assert "https://www.googleapis.com/auth/admin.directory.orgunit" in console.get("/settings").get_data(as_text=True)
    add_staff(env)
    assert "create org unit /Staff" in text_of(console.post("/test"))

    console.post(
        "/attributes/org-units",
        {"org_units": "attribute", "org_unit_attribute": "departmentNumber", "org_unit_root": "/"},
    )
    sync = config.load(str(env.config_path)).sync
    assert (sync.org_units, sync.org_unit_root) == ("attribute:departmentNumber", "/")
    assert re.search(r'name="org_units" value="attribute" checked', console.get("/attributes").get_data(as_text=True))

    bad = console.post(
        "/attributes/org-units", {"org_units": "attribute", "org_unit_attribute": "dept number", "org_unit_root": "/"}
    )
    assert bad.status_code == 400 and "give an LDAP attribute name" in text_of(bad)
    bad = console.post("/attributes/org-units", {"org_units": "dn", "org_unit_root": "/Staff//EMEA"})
    assert bad.status_code == 400 and "org unit root" in text_of(bad)
    assert config.load(str(env.config_path)).sync.org_units == "attribute:departmentNumber"

    console.post("/attributes/org-units", {"org_units": "", "org_unit_root": "/"})
    assert "\norg_units = \n" in env.config_path.read_text() and config.load(str(env.config_path)).sync.org_units == ""
    assert "users stay where they are in Google" in text_of(console.get("/attributes"))
