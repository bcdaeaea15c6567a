"""Groups Settings API v1 through the real google-api-python-client."""

import json
import urllib.request
from importlib import resources

import google_auth_httplib2
import pytest
from emulator_helpers import GROUP_SCOPE, SETTINGS_SCOPE, credentials, directory, error_of, groups_settings, raw
from google.auth.transport.requests import Request
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from app_google_sync.emulator.server import Emulator

GROUP = "staff@example.com"


@pytest.fixture
def settings_creds(key):
    return credentials(key, scopes=[SETTINGS_SCOPE])


@pytest.fixture
def settings(emu, settings_creds):
    emu.add_group(GROUP, "Staff", "The staff")
    return groups_settings(emu, settings_creds).groups()


def test_client_path_has_no_service_path_twice(emu, settings):
    settings.get(groupUniqueId=GROUP).execute()
    assert emu.calls[-1]["path"] == "/groups/v1/groups/" + GROUP
    assert emu.calls[-1]["query"] == {"alt": "json"}


def test_new_group_has_googles_defaults(emu, settings):
    got = settings.get(groupUniqueId=GROUP).execute()
    assert list(got)[:4] == ["kind", "email", "name", "description"]
    assert (got["kind"], got["email"], got["name"], got["description"]) == (
        "groupsSettings#groups",
        GROUP,
        "Staff",
        "The staff",
    )
    assert got["whoCanJoin"] == "CAN_REQUEST_TO_JOIN"
    assert got["whoCanViewMembership"] == "ALL_MEMBERS_CAN_VIEW"
    assert got["whoCanViewGroup"] == "ALL_MEMBERS_CAN_VIEW"
    assert got["whoCanPostMessage"] == "ANYONE_CAN_POST"
    assert got["messageModerationLevel"] == "MODERATE_NONE"
    assert got["spamModerationLevel"] == "MODERATE"
    assert got["whoCanDiscoverGroup"] == "ALL_IN_DOMAIN_CAN_DISCOVER"
    for flag, value in (
        ("allowExternalMembers", "false"),
        ("isArchived", "false"),
        ("archiveOnly", "false"),
        ("membersCanPostAsTheGroup", "false"),
        ("includeInGlobalAddressList", "true"),
        ("allowWebPosting", "true"),
    ):
        assert got[flag] == value  # booleans are strings in this API
    assert got["maxMessageBytes"] == 26214400
    assert "defaultMessageDenyNotificationText" not in got and "customReplyTo" not in got
    assert got == emu.group_settings(GROUP)


def test_every_field_is_in_the_discovery_schema(emu, settings):
    document = resources.files("googleapiclient") / "discovery_cache/documents/groupssettings.v1.json"
    schema = json.loads(document.read_text())["schemas"]["Groups"]["properties"]
    got = settings.get(groupUniqueId=GROUP).execute()
    assert set(got) <= set(schema)
    assert set(schema) - set(got) == {"customReplyTo", "customFooterText", "defaultMessageDenyNotificationText"}


def test_patch_changes_only_the_fields_sent(emu, settings):
    got = settings.patch(
        groupUniqueId=GROUP,
        body={
            "whoCanJoin": "INVITED_CAN_JOIN",
            "allowExternalMembers": "true",
            "whoCanPostMessage": "ALL_MEMBERS_CAN_POST",
        },
    ).execute()
    assert (got["whoCanJoin"], got["allowExternalMembers"], got["whoCanPostMessage"]) == (
        "INVITED_CAN_JOIN",
        "true",
        "ALL_MEMBERS_CAN_POST",
    )
    again = settings.patch(groupUniqueId=GROUP, body={"messageModerationLevel": "MODERATE_NON_MEMBERS"}).execute()
    assert again["whoCanJoin"] == "INVITED_CAN_JOIN" and again["messageModerationLevel"] == "MODERATE_NON_MEMBERS"
    assert emu.group_settings(GROUP) == again
    assert [c["method"] for c in emu.write_calls()] == ["PATCH", "PATCH"]


def test_update_and_name_description_reach_the_directory_group(emu, settings, service):
    got = settings.update(
        groupUniqueId=GROUP,
        body={"name": "Staff room", "description": "All of us", "whoCanViewGroup": "ALL_IN_DOMAIN_CAN_VIEW"},
    ).execute()
    assert (got["name"], got["description"], got["whoCanViewGroup"]) == (
        "Staff room",
        "All of us",
        "ALL_IN_DOMAIN_CAN_VIEW",
    )
    group = emu.get_group(GROUP)
    assert (group["name"], group["description"]) == ("Staff room", "All of us")
    assert emu.calls[-1]["method"] == "PUT"


def test_email_is_read_only_here(emu, settings):
    got = settings.patch(groupUniqueId=GROUP, body={"email": "other@example.com", "kind": "x"}).execute()
    assert got["email"] == GROUP and emu.get_group(GROUP) is not None


def test_settings_follow_a_renamed_group(emu, settings, service):
    settings.patch(groupUniqueId=GROUP, body={"whoCanJoin": "ALL_IN_DOMAIN_CAN_JOIN"}).execute()
    service.groups().patch(groupKey=GROUP, body={"email": "team@example.com"}).execute()
    assert settings.get(groupUniqueId="team@example.com").execute()["whoCanJoin"] == "ALL_IN_DOMAIN_CAN_JOIN"
    assert settings.get(groupUniqueId=GROUP).execute()["email"] == "team@example.com"  # old address is an alias


@pytest.mark.parametrize(
    "body",
    [
        {"whoCanPostMessage": "EVERYONE"},
        {"whoCanJoin": "anyone_can_join"},
        {"messageModerationLevel": "MODERATE"},
        {"spamModerationLevel": "MODERATE_NONE"},
        {"allowExternalMembers": "yes"},
        {"replyTo": "REPLY_TO_CUSTOM"},
        {"customFooterText": "x" * 1001},
        {"whoCanPostMessage": "NONE_CAN_POST"},
    ],
)
def test_invalid_values_are_400_invalid(emu, settings, body):
    before = emu.group_settings(GROUP)
    with pytest.raises(HttpError) as raised:
        settings.patch(groupUniqueId=GROUP, body=body).execute()
    assert error_of(raised)[:2] == (400, "invalid")
    assert emu.group_settings(GROUP) == before


def test_json_boolean_and_unknown_field_refused(emu, settings):
    with pytest.raises(HttpError) as raised:
        settings.patch(groupUniqueId=GROUP, body={"isArchived": True}).execute()
    assert error_of(raised)[:2] == (400, "invalid")
    with pytest.raises(HttpError) as raised:
        settings.patch(groupUniqueId=GROUP, body={"whoCanSing": "ALL"}).execute()
    assert error_of(raised)[:2] == (400, "invalid")


def test_archive_only_forces_none_can_post_and_back(emu, settings):
    got = settings.patch(groupUniqueId=GROUP, body={"archiveOnly": "true"}).execute()
    assert (got["archiveOnly"], got["whoCanPostMessage"]) == ("true", "NONE_CAN_POST")
    got = settings.patch(groupUniqueId=GROUP, body={"archiveOnly": "false"}).execute()
    assert (got["archiveOnly"], got["whoCanPostMessage"]) == ("false", "ALL_MANAGERS_CAN_POST")


def test_reply_to_custom_with_address(emu, settings):
    got = settings.patch(
        groupUniqueId=GROUP, body={"replyTo": "REPLY_TO_CUSTOM", "customReplyTo": "desk@example.com"}
    ).execute()
    assert (got["replyTo"], got["customReplyTo"]) == ("REPLY_TO_CUSTOM", "desk@example.com")


def test_show_in_group_directory_is_merged_into_who_can_discover(emu, settings):
    got = settings.patch(groupUniqueId=GROUP, body={"showInGroupDirectory": "false"}).execute()
    assert (got["showInGroupDirectory"], got["whoCanDiscoverGroup"]) == ("false", "ALL_MEMBERS_CAN_DISCOVER")


@pytest.mark.parametrize("unknown", ["nobody@example.com", "no-at-sign"])
def test_unknown_group_is_404(emu, settings, unknown):
    with pytest.raises(HttpError) as raised:
        settings.get(groupUniqueId=unknown).execute()
    assert error_of(raised)[:2] == (404, "notFound")
    with pytest.raises(HttpError) as raised:
        settings.patch(groupUniqueId=unknown, body={"whoCanJoin": "INVITED_CAN_JOIN"}).execute()
    assert error_of(raised)[:2] == (404, "notFound")


def test_group_id_is_not_a_group_unique_id(emu, settings):
    group_id = emu.get_group(GROUP)["id"]
    with pytest.raises(HttpError) as raised:
        settings.get(groupUniqueId=group_id).execute()
    assert error_of(raised)[:2] == (404, "notFound")


def test_missing_scope_is_403_and_settings_scope_is_not_directory(emu, key):
    emu.add_group(GROUP, "Staff")
    with pytest.raises(HttpError) as raised:
        groups_settings(emu, credentials(key, scopes=[GROUP_SCOPE])).groups().get(groupUniqueId=GROUP).execute()
    assert error_of(raised) == (403, "insufficientPermissions", "Request had insufficient authentication scopes.")
    with pytest.raises(HttpError) as raised:
        directory(emu, credentials(key, scopes=[SETTINGS_SCOPE])).groups().get(groupKey=GROUP).execute()
    assert error_of(raised)[:2] == (403, "insufficientPermissions")


def test_non_admin_is_forbidden(emu, key):
    emu.add_group(GROUP, "Staff")
    emu.add_user("bob@example.com", "Bob", "Builder")
    creds = credentials(key, scopes=[SETTINGS_SCOPE], subject="bob@example.com")
    with pytest.raises(HttpError) as raised:
        groups_settings(emu, creds).groups().get(groupUniqueId=GROUP).execute()
    assert error_of(raised)[:2] == (403, "forbidden")


def test_fields_selects_part_of_the_answer(emu, settings):
    got = settings.get(groupUniqueId=GROUP, fields="email,whoCanJoin").execute()
    assert got == {"email": GROUP, "whoCanJoin": "CAN_REQUEST_TO_JOIN"}
    with pytest.raises(HttpError) as raised:
        settings.get(groupUniqueId=GROUP, fields="primaryEmail").execute()
    assert error_of(raised)[:2] == (400, "invalidParameter")


def bearer(creds):
    creds.refresh(Request())
    return {"Authorization": "Bearer " + creds.token}


def test_atom_is_the_default_format_without_alt(emu, settings, settings_creds):
    url = emu.base_url + "groups/v1/groups/" + GROUP
    request_headers = bearer(settings_creds)
    with urllib.request.urlopen(urllib.request.Request(url, headers=request_headers)) as response:
        content_type, text = response.headers["Content-Type"], response.read().decode()
    assert content_type.startswith("application/atom+xml")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?><entry xmlns="http://www.w3.org/2005/Atom"')
    assert "<apps:email>%s</apps:email>" % GROUP in text
    assert "<apps:whoCanJoin>CAN_REQUEST_TO_JOIN</apps:whoCanJoin>" in text
    status, headers, body = raw("GET", url + "?alt=json", headers=request_headers)
    assert status == 200 and body["kind"] == "groupsSettings#groups"
    status, _, body = raw("GET", url + "?alt=xml", headers=request_headers)
    assert status == 400


def test_batch_at_groupssettings_batch_path(emu, settings, settings_creds):
    emu.add_group("sales@example.com", "Sales")
    results = {}
    batch = BatchHttpRequest(
        callback=lambda rid, response, error: results.update({rid: (response, error)}),
        batch_uri=emu.base_url + "batch/groupssettings/v1",
    )
    batch.add(settings.patch(groupUniqueId=GROUP, body={"whoCanJoin": "INVITED_CAN_JOIN"}), request_id="staff")
    batch.add(settings.get(groupUniqueId="sales@example.com"), request_id="sales")
    batch.add(settings.get(groupUniqueId="gone@example.com"), request_id="gone")
    batch.execute(http=google_auth_httplib2.AuthorizedHttp(settings_creds))
    assert results["staff"][0]["whoCanJoin"] == "INVITED_CAN_JOIN"
    assert results["sales"][0]["email"] == "sales@example.com"
    assert error_of(results["gone"][1])[:2] == (404, "notFound")
    assert len(emu.batches) == 1 and all(c["batch"] for c in emu.calls)


def test_batch_parts_must_call_the_batch_api(emu, key, settings_creds):
    emu.add_group(GROUP, "Staff")
    results = {}
    batch = BatchHttpRequest(
        callback=lambda rid, response, error: results.update({rid: error}),
        batch_uri=emu.base_url + "batch/admin/directory_v1",
    )
    batch.add(groups_settings(emu, settings_creds).groups().get(groupUniqueId=GROUP), request_id="settings")
    batch.execute(http=google_auth_httplib2.AuthorizedHttp(settings_creds))
    assert error_of(results["settings"])[:2] == (404, "notFound")


def test_no_write_calls_for_reads(emu, settings):
    settings.get(groupUniqueId=GROUP).execute()
    assert emu.write_calls() == []


def test_settings_are_kept_in_the_state_file(tmp_path, session_key):
    state = str(tmp_path / "state.json")
    for round_ in range(2):
        emu = Emulator(state_file=state).start()
        try:
            key = dict(session_key, token_uri=emu.token_uri)
            emu.register_service_account(key)
            settings = groups_settings(emu, credentials(key, scopes=[SETTINGS_SCOPE])).groups()
            if round_ == 0:
                emu.add_group(GROUP, "Staff")
                settings.patch(groupUniqueId=GROUP, body={"whoCanPostMessage": "ALL_IN_DOMAIN_CAN_POST"}).execute()
            else:
                assert settings.get(groupUniqueId=GROUP).execute()["whoCanPostMessage"] == "ALL_IN_DOMAIN_CAN_POST"
        finally:
            emu.stop()


def test_group_settings_of_unknown_group_is_none(emu):
    assert emu.group_settings("nobody@example.com") is None
