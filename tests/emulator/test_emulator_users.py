"""users.* through the real client: Google's rules, errors and resource shape."""

import hashlib
import warnings

import pytest
from emulator_helpers import ADMIN, error_of, user_body
from googleapiclient.errors import HttpError


def insert_error(service, body):
    with pytest.raises(HttpError) as raised:
        service.users().insert(body=body).execute()
    return error_of(raised)


def test_insert_returns_google_resource_without_password(emu, service):
    user = service.users().insert(body=user_body("Ada.Lovelace@Example.com")).execute()
    assert user["kind"] == "admin#directory#user"
    assert user["primaryEmail"] == "ada.lovelace@example.com"
    assert len(user["id"]) == 21 and user["id"].isdigit()
    assert user["name"] == {"givenName": "Ada", "familyName": "Lovelace", "fullName": "Ada Lovelace"}
    assert user["creationTime"].endswith("Z") and user["etag"].startswith('"')
    assert user["emails"] == [{"address": "ada.lovelace@example.com", "primary": True}]
    assert user["customerId"] == emu.customer_id and user["customerId"].startswith("C0")
    assert user["orgUnitPath"] == "/" and user["isAdmin"] is False and user["suspended"] is False
    assert "password" not in user and "hashFunction" not in user and "aliases" not in user
    assert service.users().get(userKey="ADA.lovelace@example.com").execute()["id"] == user["id"]
    assert service.users().get(userKey=user["id"]).execute()["primaryEmail"] == user["primaryEmail"]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": {"givenName": "A", "familyName": "B"}, "password": "12345678"}, "Invalid Input: primary_user_email"),
        (user_body("no-at-sign"), "Invalid Input: primary_user_email"),
        (user_body(".dot@example.com"), "Invalid Input: primary_user_email"),
        (user_body("dot.@example.com"), "Invalid Input: primary_user_email"),
        (user_body("two..dots@example.com"), "Invalid Input: primary_user_email"),
        (user_body("plus+sign@example.com"), "Invalid Input: primary_user_email"),
        (user_body("someone@elsewhere.org"), "Domain not found."),
        (user_body("a@example.com", given=""), "Invalid Given/Family Name: GivenName"),
        (user_body("a@example.com", given="   "), "Invalid Given/Family Name: GivenName"),
        (user_body("a@example.com", family=""), "Invalid Given/Family Name: FamilyName"),
        (user_body("a@example.com", family="x" * 61), "Invalid Given/Family Name: FamilyName"),
        (user_body("a@example.com", given="é" * 61), "Invalid Given/Family Name: GivenName"),
        ({"primaryEmail": "a@example.com", "password": "12345678"}, "Invalid Given/Family Name: GivenName"),
        ({"primaryEmail": "a@example.com", "name": {"givenName": "A", "familyName": "B"}}, "Invalid Password"),
        (user_body("a@example.com", password="short"), "Invalid Password"),
        (user_body("a@example.com", password="x" * 101), "Invalid Password"),
        (user_body("a@example.com", password="abc", hashFunction="SHA-1"), "Invalid Password"),
        (user_body("a@example.com", password="g" * 40, hashFunction="SHA-1"), "Invalid Password"),
        (user_body("a@example.com", password="a" * 40, hashFunction="MD5"), "Invalid Password"),
        (user_body("a@example.com", password="a" * 64, hashFunction="SHA-256"), "Invalid Input: hash_function"),
        (
            user_body("a@example.com", password="$2y$10$abcdefghijklmnopqrstuv", hashFunction="crypt"),
            "Invalid Password",
        ),
        (
            user_body("a@example.com", password="$6$rounds=20000$salt$" + "a" * 86, hashFunction="crypt"),
            "Invalid Password",
        ),
    ],
)
def test_insert_rules(service, body, message):
    assert insert_error(service, body) == (400, "invalid", message)


def test_insert_refuses_unknown_fields(service):
    status, reason, message = insert_error(service, user_body("a@example.com", nickname="x"))
    assert status == 400 and 'Unknown name "nickname"' in message


def test_names_up_to_60_characters_non_ascii_kept_intact(service):
    given, family = "Ærøskøbing-" + "é" * 49, "Łódź 山田 " + "ß" * 52
    assert len(given) == 60 and len(family) == 60
    user = service.users().insert(body=user_body("u@example.com", given=given, family=family)).execute()
    stored = service.users().get(userKey="u@example.com").execute()
    assert user["name"]["givenName"] == stored["name"]["givenName"] == given
    assert stored["name"]["familyName"] == family


@pytest.mark.parametrize(
    "password, hash_function",
    [
        ("5f4dcc3b5aa765d61d8327deb882cf99", "MD5"),
        ("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8", "SHA-1"),
        ("abJnggxhB/yWI", "crypt"),
        ("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "crypt"),
        ("$5$rounds=5000$salt$" + "a" * 43, "crypt"),
        ("$6$saltsalt$" + "b" * 86, "crypt"),
    ],
)
def test_hashed_passwords_accepted_and_stored_as_sent(emu, service, password, hash_function):
    service.users().insert(body=user_body("h@example.com", password=password, hashFunction=hash_function)).execute()
    function, value = emu.stored_password("h@example.com")
    assert function == hash_function
    assert value.lower() == password.lower()


def test_check_password_cleartext_sha1_md5(emu, service):
    service.users().insert(body=user_body("clear@example.com", password="s3cret-pass")).execute()
    assert emu.stored_password("clear@example.com")[0] is None
    assert emu.stored_password("clear@example.com")[1] != "s3cret-pass"  # salted hash, not the text
    assert emu.check_password("clear@example.com", "s3cret-pass")
    assert not emu.check_password("clear@example.com", "wrong")
    for function, digest in (("SHA-1", hashlib.sha1), ("MD5", hashlib.md5)):
        email = "%s@example.com" % function.lower().replace("-", "")
        body = user_body(email, password=digest(b"hunter22").hexdigest(), hashFunction=function)
        service.users().insert(body=body).execute()
        assert emu.check_password(email, "hunter22")
        assert not emu.check_password(email, "hunter23")


def test_duplicates_are_409_across_users_aliases_and_groups(emu, service):
    service.users().insert(body=user_body("ada@example.com")).execute()
    service.users().aliases().insert(userKey="ada@example.com", body={"alias": "countess@example.com"}).execute()
    emu.add_group("staff@example.com", "Staff")
    for taken in ("ADA@example.com", "countess@example.com", "staff@example.com"):
        assert insert_error(service, user_body(taken)) == (409, "duplicate", "Entity already exists.")


def test_unknown_user_is_404(service):
    for call in (
        service.users().get(userKey="ghost@example.com"),
        service.users().delete(userKey="ghost@example.com"),
        service.users().patch(userKey="ghost@example.com", body={"suspended": True}),
    ):
        with pytest.raises(HttpError) as raised:
            call.execute()
        assert error_of(raised) == (404, "notFound", "Resource Not Found: userKey")


def test_patch_changes_only_fields_sent_and_replaces_arrays(service):
    service.users().insert(
        body=user_body(
            "p@example.com", organizations=[{"name": "A"}, {"name": "B"}], phones=[{"value": "1", "type": "work"}]
        )
    ).execute()
    patched = (
        service.users()
        .patch(
            userKey="p@example.com",
            body={"name": {"familyName": "Byron"}, "organizations": [{"name": "C"}], "suspended": True},
        )
        .execute()
    )
    assert patched["name"] == {"givenName": "Ada", "familyName": "Byron", "fullName": "Ada Byron"}
    assert patched["organizations"] == [{"name": "C"}]
    assert patched["phones"] == [{"value": "1", "type": "work"}]
    assert patched["suspended"] is True and patched["suspensionReason"] == "ADMIN"
    unsuspended = service.users().patch(userKey="p@example.com", body={"suspended": False}).execute()
    assert "suspensionReason" not in unsuspended


def test_update_keeps_omitted_fields(service):
    service.users().insert(body=user_body("u@example.com", phones=[{"value": "1", "type": "work"}])).execute()
    updated = service.users().update(userKey="u@example.com", body={"name": {"givenName": "Augusta"}}).execute()
    assert updated["name"]["givenName"] == "Augusta" and updated["name"]["familyName"] == "Lovelace"
    assert updated["phones"] == [{"value": "1", "type": "work"}]


def test_patch_validates_like_insert(service):
    service.users().insert(body=user_body("v@example.com")).execute()
    for body, message in (
        ({"name": {"givenName": ""}}, "Invalid Given/Family Name: GivenName"),
        ({"password": "short"}, "Invalid Password"),
        ({"primaryEmail": "v@other.org"}, "Domain not found."),
        ({"orgUnitPath": "/Nowhere"}, "Invalid Input: INVALID_OU_ID"),
    ):
        with pytest.raises(HttpError) as raised:
            service.users().patch(userKey="v@example.com", body=body).execute()
        assert error_of(raised) == (400, "invalid", message)
    assert service.users().get(userKey="v@example.com").execute()["name"]["givenName"] == "Ada"


def test_patch_password_changes_it(emu, service):
    service.users().insert(body=user_body("pw@example.com")).execute()
    digest = hashlib.sha1(b"new password").hexdigest()
    service.users().patch(userKey="pw@example.com", body={"password": digest, "hashFunction": "SHA-1"}).execute()
    assert emu.stored_password("pw@example.com") == ("SHA-1", digest)
    assert emu.check_password("pw@example.com", "new password")


def test_rename_keeps_old_address_as_alias(emu, service):
    emu.add_group("team@example.com", "Team")
    service.users().insert(body=user_body("old@example.com")).execute()
    emu.add_member("team@example.com", "old@example.com")
    renamed = service.users().patch(userKey="old@example.com", body={"primaryEmail": "New@example.com"}).execute()
    assert renamed["primaryEmail"] == "new@example.com"
    assert renamed["aliases"] == ["old@example.com"]
    assert {"address": "old@example.com"} in renamed["emails"]
    assert service.users().get(userKey="old@example.com").execute()["primaryEmail"] == "new@example.com"
    assert emu.members("team@example.com") == ["new@example.com"]
    assert insert_error(service, user_body("old@example.com"))[:2] == (409, "duplicate")


def test_aliases_list_insert_delete(service):
    service.users().insert(body=user_body("al@example.com")).execute()
    aliases = service.users().aliases()
    assert "aliases" not in aliases.list(userKey="al@example.com").execute()
    alias = aliases.insert(userKey="al@example.com", body={"alias": "AL2@example.com"}).execute()
    assert alias["alias"] == "al2@example.com" and alias["primaryEmail"] == "al@example.com"
    listed = aliases.list(userKey="al@example.com").execute()["aliases"]
    assert [a["alias"] for a in listed] == ["al2@example.com"]
    with pytest.raises(HttpError) as raised:
        aliases.insert(userKey="al@example.com", body={"alias": "x@other.org"}).execute()
    assert error_of(raised)[0] == 400
    aliases.delete(userKey="al@example.com", alias="al2@example.com").execute()
    with pytest.raises(HttpError) as raised:
        service.users().get(userKey="al2@example.com").execute()
    assert error_of(raised)[0] == 404


def test_delete_user_removes_memberships(emu, service):
    emu.add_group("team@example.com", "Team")
    service.users().insert(body=user_body("gone@example.com")).execute()
    emu.add_member("team@example.com", "gone@example.com")
    assert service.users().delete(userKey="gone@example.com").execute() == ""
    assert emu.members("team@example.com") == []
    assert emu.get_user("gone@example.com") is None


def test_make_admin(emu, service):
    emu.add_user("boss@example.com", "Big", "Boss")
    assert service.users().makeAdmin(userKey="boss@example.com", body={"status": True}).execute() == ""
    assert emu.get_user("boss@example.com")["isAdmin"] is True


def test_is_admin_cannot_be_set_by_insert(service):
    user = service.users().insert(body=user_body("sneaky@example.com", isAdmin=True)).execute()
    assert user["isAdmin"] is False


def test_optional_fields_echoed(service):
    body = user_body(
        "opt@example.com",
        externalIds=[{"value": "1001", "type": "organization"}],
        changePasswordAtNextLogin=True,
        includeInGlobalAddressList=False,
    )
    user = service.users().insert(body=body).execute()
    assert user["externalIds"] == [{"value": "1001", "type": "organization"}]
    assert user["changePasswordAtNextLogin"] is True and user["includeInGlobalAddressList"] is False


def test_orgunit_path_must_exist(service):
    assert insert_error(service, user_body("ou@example.com", orgUnitPath="/Sales"))[:2] == (400, "invalid")
    service.orgunits().insert(customerId="my_customer", body={"name": "Sales", "parentOrgUnitPath": "/"}).execute()
    user = service.users().insert(body=user_body("ou@example.com", orgUnitPath="/Sales")).execute()
    assert user["orgUnitPath"] == "/Sales"


def test_secondary_domain(emu, service):
    emu.add_domain("example.net")
    assert service.users().insert(body=user_body("x@example.net")).execute()["primaryEmail"] == "x@example.net"


def test_admin_is_pre_provisioned(emu, service):
    admin = service.users().get(userKey=ADMIN).execute()
    assert admin["isAdmin"] is True and admin["agreedToTerms"] is True


def test_check_password_crypt(emu, service):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")  # the stdlib one, as an independent reference
    hashed = crypt.crypt("open sesame", "$6$rounds=5000$saltsalt$")
    service.users().insert(body=user_body("c@example.com", password=hashed, hashFunction="crypt")).execute()
    assert emu.stored_password("c@example.com") == ("crypt", hashed)
    assert emu.check_password("c@example.com", "open sesame")
    assert not emu.check_password("c@example.com", "open says me")
    assert not emu.check_password("nobody@example.com", "open sesame")
