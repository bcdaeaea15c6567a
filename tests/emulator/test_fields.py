"""The `fields` selector on its own: Google's syntax, applied to plain JSON values."""

import pytest

from app_google_sync.emulator import fields
from app_google_sync.emulator.errors import ApiError

RESOURCE = {
    "kind": "k",
    "etag": "e",
    "nextPageToken": "t",
    "users": [
        {"id": "1", "name": {"givenName": "A", "familyName": "B"}, "emails": [{"address": "x"}]},
        {"id": "2", "name": {"givenName": "C", "familyName": "D"}},
    ],
}


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("kind", {"kind": "k"}),
        ("kind,etag", {"kind": "k", "etag": "e"}),
        ("users/id", {"users": [{"id": "1"}, {"id": "2"}]}),
        (
            "users(id,name/givenName)",
            {"users": [{"id": "1", "name": {"givenName": "A"}}, {"id": "2", "name": {"givenName": "C"}}]},
        ),
        ("users(name(familyName))", {"users": [{"name": {"familyName": "B"}}, {"name": {"familyName": "D"}}]}),
        ("users/emails/address", {"users": [{"emails": [{"address": "x"}]}, {}]}),
        (
            "users/name,users/name/givenName",
            {"users": [{"name": RESOURCE["users"][0]["name"]}, {"name": RESOURCE["users"][1]["name"]}]},
        ),
        ("*", RESOURCE),
        ("users/*", {"users": RESOURCE["users"]}),
    ],
)
def test_apply(selector, expected):
    assert fields.apply(fields.parse(selector), RESOURCE) == expected


@pytest.mark.parametrize("selector", ["", ",", "a,", "a(", "a()", "a)b", "a//b", "(a)", "a b"])
def test_syntax_errors(selector):
    with pytest.raises(ApiError) as raised:
        fields.parse(selector)
    assert raised.value.code == 400


@pytest.mark.parametrize(
    "selector, ok",
    [
        ("nextPageToken,users(id,primaryEmail,name(givenName,familyName),suspended,isAdmin)", True),
        ("users(organizations/anything/below)", True),  # "any" fields are not described further
        ("users(nickname)", False),
        ("users/primaryEmail/domain", False),
    ],
)
def test_checked_against_the_schema(selector, ok):
    tree = fields.parse(selector)
    if ok:
        fields.check(tree, "Users", selector)
    else:
        with pytest.raises(ApiError):
            fields.check(tree, "Users", selector)
