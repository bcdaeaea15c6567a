"""Values the console writes into the configuration file are capped (in the schema, once), refused in one line;
flashed messages never carry unbounded input into the session cookie."""

import os

import pytest
from console_helpers import text_of

BIG = 100_000  # under the 128 KiB request limit, far over any cap


@pytest.mark.parametrize(
    "path, form, message",
    [
        (
            "/settings",
            {"domain": "a" * BIG + ".com", "admin_email": "admin@example.com"},
            f"domain: the value is too long ({BIG + 4} characters; at most 256): shorten it",
        ),
        (
            "/attributes/org-units",
            {"org_units": "dn", "org_unit_root": "/" + "a" * BIG},
            "org unit root: the value is too long",
        ),
        ("/attributes/domains", {"domains": "a.example.org " * 7000}, "Other domains: the value is too long"),
        (
            "/attributes/domains",
            {"domains": "", "default_domain": "x" * BIG + ".org"},
            "Default domain: the value is too long",
        ),
        (
            "/attributes/custom",
            {"field": "HR." + "a" * BIG, "attribute": "title"},
            "custom field: the value is too long",
        ),
        (
            "/attributes/custom",
            {"field": "HR.costCenter", "attribute": "a" * BIG},
            "LDAP attribute for HR.costCenter: the value is too long",
        ),
        ("/attributes/licenses", {"product": "G" * BIG, "sku": "1010020027"}, "Product: the value is too long"),
        ("/attributes/licenses", {"product": "Google-Apps", "sku": "1" * BIG}, "SKU: the value is too long"),
        ("/attributes", {"on_title": "yes", "attr_title": "a" * BIG}, "[attributes] title: the value is too long"),
    ],
)
def test_an_overlong_value_is_refused_in_one_line_and_not_written(fresh_console, bare_config, path, form, message):
    before = bare_config.read_text()
    response = fresh_console.post(path, form)
    assert response.status_code == 400
    assert message in text_of(response)
    assert bare_config.read_text() == before
    assert "a" * 200 not in text_of(response)  # the message does not repeat it


def test_a_flashed_message_never_carries_unbounded_input_into_the_cookie(fresh_console):
    incompressible = os.urandom(
        BIG // 2
    ).hex()  # the session cookie is zlib-compressed: "X" * BIG would hide the problem
    response = fresh_console.post("/attributes/custom", {"remove": incompressible})
    assert response.status_code == 302
    cookie = fresh_console.client.get_cookie("session")
    assert len(cookie.value) < 4096, len(cookie.value)
    assert "…" in text_of(fresh_console.get("/attributes"))
