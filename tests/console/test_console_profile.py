"""The Attributes page's profile rows: domains and the manager (real slapd + emulator, Flask's client)."""

import re

from console_helpers import text_of

from app_google_sync.libraries.settings import config

DOMAIN_SCOPE = "https://www.googleapis.com/auth/admin.directory.domain.readonly"


def test_domains_are_saved_validated_and_ask_for_their_scope_only_when_read_from_google(env, console):
    env.emulator.add_domain("example.org")
    page = text_of(console.get("/attributes"))
    assert "Other domains" in page and "Default domain" in page
    assert DOMAIN_SCOPE not in console.get("/settings").get_data(as_text=True)

    response = console.post(
        "/attributes/domains", {"domains": "example.org, Example.NET", "default_domain": "example.org"}
    )
    assert response.status_code == 302
    google = config.load(str(env.config_path)).google
    assert (google.domains, google.default_domain) == (("example.org", "example.net"), "example.org")
    assert "Domains saved: example.org example.net besides the primary one." in text_of(console.get("/attributes"))
    assert DOMAIN_SCOPE not in console.get("/settings").get_data(as_text=True)

    bad = console.post("/attributes/domains", {"domains": "example.org", "default_domain": "elsewhere.test"})
    assert bad.status_code == 400
    assert "Default domain elsewhere.test is not one of the account's domains" in text_of(bad)
    bad = console.post("/attributes/domains", {"domains": "example.org *", "default_domain": ""})
    assert bad.status_code == 400 and "'*' stands alone" in text_of(bad)
    assert config.load(str(env.config_path)).google.domains == ("example.org", "example.net")

    console.post("/attributes/domains", {"domains": "*", "default_domain": ""})
    text = text_of(console.get("/attributes"))
    assert "Domains read from Google need the admin.directory.domain.readonly scope" in text
    assert DOMAIN_SCOPE in console.get("/settings").get_data(as_text=True)
    env.directory.add_user("alice", "Alice", "Tester", mail="alice@example.org", groups=("google_apps_plugin",))
    assert "create user alice@example.org" in text_of(console.post("/test"))

    console.post("/attributes/domains", {"domains": "", "default_domain": ""})
    assert config.load(str(env.config_path)).google.domains == ()
    assert "only the primary domain is synchronized" in text_of(console.get("/attributes"))


def test_the_manager_and_photo_rows_are_off_until_switched_on_and_then_fill_google(env, console):
    page = console.get("/attributes").get_data(as_text=True)
    assert re.search(
        r'<tr class="gs-row-off">\s*<td class="nowrap"><label class="switch"><input type="checkbox" name="on_photo"',
        page,
    )
    assert 'name="attr_photo" id="gs-attr-photo" class="mono gs-attr" value="jpegPhoto"' in page
    assert re.search(
        r'<tr class="gs-row-off">\s*<td class="nowrap"><label class="switch"><input type="checkbox" name="on_manager"',
        page,
    )
    assert 'name="attr_manager" id="gs-attr-manager" class="mono gs-attr" value="manager"' in page
    assert "relations[type=manager]" in text_of(console.get("/attributes"))
    form = {
        f"on_{key}": "yes"
        for key in ("title", "department", "phone", "mobile", "employee_id", "aliases", "manager", "photo")
    }
    form.update(
        attr_title="title",
        attr_department="departmentNumber",
        attr_phone="telephoneNumber",
        attr_mobile="mobile",
        attr_employee_id="employeeNumber",
        attr_aliases="mailLocalAddress",
        attr_manager="manager",
        attr_photo="jpegPhoto",
    )
    assert console.post("/attributes", form).status_code == 302
    attributes = config.load(str(env.config_path)).attributes
    assert (attributes.manager, attributes.photo) == ("manager", "jpegPhoto")
    assert "8 of 8 on" in text_of(console.get("/attributes"))
    bob = env.directory.add_user("bob", "Bob", "Boss", groups=("google_apps_plugin",))
    env.directory.add_user("alice", "Alice", "Tester", groups=("google_apps_plugin",), extra_attrs={"manager": bob})
    env.directory.modify_user("alice", jpegPhoto=b"\xff\xd8\xff\xe0 a tiny portrait")
    preview = text_of(console.post("/test"))
    assert "manager: bob@example.com" in preview and "set photo alice@example.com JPEG, 20 bytes" in preview


def test_custom_attributes_are_chosen_from_the_account_s_fields_added_and_removed(env, console):
    env.emulator.add_schema("HR", [("costCenter", "INT64", False), ("projects", "STRING", True)])
    page = console.get("/attributes").get_data(as_text=True)
    assert '<option value="HR.costCenter">HR.costCenter (INT64)</option>' in page
    assert '<option value="HR.projects">HR.projects (STRING, multi-valued)</option>' in page
    settings_page = console.get("/settings").get_data(as_text=True)
    assert "admin.directory.userschema.readonly" not in settings_page

    assert (
        console.post("/attributes/custom", {"field": "HR.costCenter", "attribute": "employeeNumber"}).status_code == 302
    )
    assert config.load(str(env.config_path)).custom_attributes == (("hr.costcenter", "employeeNumber"),)
    assert "HR.costCenter = employeeNumber" in env.config_path.read_text()
    text = text_of(console.get("/attributes"))
    assert "HR.costCenter is filled from employeeNumber." in text
    assert "Custom attributes need the admin.directory.userschema.readonly scope" in text
    assert re.search(r"HR\.costCenter INT64 employeeNumber Remove", text)
    assert "admin.directory.userschema.readonly" in console.get("/settings").get_data(as_text=True)

    env.directory.add_user(
        "alice", "Alice", "Tester", groups=("google_apps_plugin",), extra_attrs={"employeeNumber": "12x"}
    )
    assert "HR.costCenter not synchronized: '12x' is not a whole number" in text_of(console.post("/test"))

    bad = console.post("/attributes/custom", {"field": "HR.projects", "attribute": "business category"})
    assert bad.status_code == 400 and "give an LDAP attribute name" in text_of(bad)
    console.post("/attributes/custom", {"remove": "hr.costcenter"})
    assert config.load(str(env.config_path)).custom_attributes == ()
    assert "hr.costcenter is no longer synchronized; Google keeps its values." in text_of(console.get("/attributes"))


def test_licences_are_saved_validated_and_ask_for_their_scope(env, console):
    env.emulator.add_sku("Google-Apps", "1010020027", 5)
    assert "apps.licensing" not in console.get("/settings").get_data(as_text=True)
    bad = console.post("/attributes/licenses", {"product": "Google-Apps", "sku": ""})
    assert bad.status_code == 400 and "Give both the product and the SKU" in text_of(bad)
    bad = console.post("/attributes/licenses", {"product": "Google Apps", "sku": "1"})
    assert bad.status_code == 400 and "Product = 'Google Apps': give a product ID such as Google-Apps" in text_of(bad)

    assert (
        console.post(
            "/attributes/licenses", {"product": "Google-Apps", "sku": "1010020027", "release_on_suspend": "yes"}
        ).status_code
        == 302
    )
    licenses = config.load(str(env.config_path)).licenses
    assert (licenses.product, licenses.sku, licenses.release_on_suspend) == ("Google-Apps", "1010020027", True)
    text = text_of(console.get("/attributes"))
    assert "new and unsuspended users get Google-Apps 1010020027; suspended users give theirs back." in text
    assert "Licences need the apps.licensing scope" in text
    assert "https://www.googleapis.com/auth/apps.licensing" in console.get("/settings").get_data(as_text=True)
    env.directory.add_user("alice", "Alice", "Tester", groups=("google_apps_plugin",))
    assert "assign licence alice@example.com Google-Apps 1010020027" in text_of(console.post("/test"))

    console.post("/attributes/licenses", {"product": "", "sku": ""})
    assert config.load(str(env.config_path)).licenses.product == ""
    assert "Licences are off" in text_of(console.get("/attributes"))
