"""The emulator's account-security methods (signOut, tokens, asps) and the Data Transfer API, through the real client."""

import pytest
from emulator_helpers import SCOPE, USER_SCOPE, credentials, error_of
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

SECURITY = SCOPE + "admin.directory.user.security"
TRANSFER = SCOPE + "admin.datatransfer"


def build_with(emu, key, scopes, api="directory_v1"):
    return build(
        "admin",
        api,
        credentials=credentials(key, scopes=scopes),
        client_options={"api_endpoint": emu.base_url},
        static_discovery=True,
        cache_discovery=False,
    )


@pytest.fixture
def people(emu):
    alice = emu.add_user("alice@example.com", "Alice", "Leaver")
    bob = emu.add_user("bob@example.com", "Bob", "Boss")
    emu.add_token("alice@example.com", "1234.apps.googleusercontent.com", "Slack")
    code = emu.add_app_password("alice@example.com", "Thunderbird")
    emu.add_drive_files("alice@example.com", "shared:plan.doc", "diary.txt")
    return alice, bob, code


def test_security_calls_need_their_scope_and_refuse_a_suspended_user(emu, key, people):
    alice, _, code = people
    without = build_with(emu, key, [USER_SCOPE])
    with pytest.raises(HttpError) as refused:
        without.tokens().list(userKey=alice["id"]).execute()
    assert error_of(refused)[0] == 403
    service = build_with(emu, key, [USER_SCOPE, SECURITY])
    assert [item["displayText"] for item in service.tokens().list(userKey="alice@example.com").execute()["items"]] == [
        "Slack"
    ]
    assert service.asps().list(userKey=alice["id"]).execute()["items"][0]["codeId"] == code
    service.users().patch(userKey=alice["id"], body={"suspended": True}).execute()
    for request in (
        service.users().signOut(userKey=alice["id"]),
        service.tokens().delete(userKey=alice["id"], clientId="1234.apps.googleusercontent.com"),
    ):
        with pytest.raises(HttpError) as refused:
            request.execute()
        assert error_of(refused)[:2] == (412, "conditionNotMet")
    service.users().patch(userKey=alice["id"], body={"suspended": False}).execute()
    service.users().signOut(userKey=alice["id"]).execute()
    service.tokens().delete(userKey=alice["id"], clientId="1234.apps.googleusercontent.com").execute()
    service.asps().delete(userKey=alice["id"], codeId=code).execute()
    assert (
        emu.sign_outs("alice@example.com") == 1
        and emu.tokens("alice@example.com") == []
        and emu.app_passwords("alice@example.com") == []
    )
    with pytest.raises(HttpError) as gone:
        service.asps().delete(userKey=alice["id"], codeId=code).execute()
    assert error_of(gone)[0] == 404


def test_a_transfer_names_users_by_id_and_runs_asynchronously(emu, key, people):
    alice, bob, _ = people
    transfers = build_with(emu, key, [TRANSFER], "datatransfer_v1")
    apps = transfers.applications().list(customerId="my_customer").execute()["applications"]
    assert {app["id"] for app in apps} == {"55656082996", "435070579839"}
    drive = {
        "applicationId": "55656082996",
        "applicationTransferParams": [{"key": "PRIVACY_LEVEL", "value": ["SHARED"]}],
    }
    with pytest.raises(HttpError) as by_address:
        transfers.transfers().insert(
            body={
                "oldOwnerUserId": "alice@example.com",
                "newOwnerUserId": bob["id"],
                "applicationDataTransfers": [drive],
            }
        ).execute()
    assert error_of(by_address)[0] == 400 and "not an address" in error_of(by_address)[2]
    started = (
        transfers.transfers()
        .insert(body={"oldOwnerUserId": alice["id"], "newOwnerUserId": bob["id"], "applicationDataTransfers": [drive]})
        .execute()
    )
    assert started["overallTransferStatusCode"] == "new"
    seen = [
        transfers.transfers().get(dataTransferId=started["id"]).execute()["overallTransferStatusCode"] for _ in range(3)
    ]
    assert seen == ["inProgress", "completed", "completed"]
    assert emu.drive_files("bob@example.com") == ["shared:plan.doc"] and emu.drive_files("alice@example.com") == [
        "diary.txt"
    ]
    listed = transfers.transfers().list(oldOwnerUserId=alice["id"]).execute()["dataTransfers"]
    assert [item["id"] for item in listed] == [started["id"]]
    with pytest.raises(HttpError) as read_only:
        build_with(emu, key, [TRANSFER + ".readonly"], "datatransfer_v1").transfers().insert(
            body={"oldOwnerUserId": alice["id"], "newOwnerUserId": bob["id"], "applicationDataTransfers": [drive]}
        ).execute()
    assert error_of(read_only)[0] == 403


def test_transfers_can_fail_and_go_in_batches_at_the_discovery_root(emu, key, people):
    alice, bob, _ = people
    transfers = build_with(emu, key, [TRANSFER], "datatransfer_v1")
    emu.fail_transfers(1)
    answers = {}
    batch = BatchHttpRequest(
        callback=lambda request_id, response, error: answers.update({request_id: response or error}),
        batch_uri=emu.base_url + "batch",
    )
    body = {
        "oldOwnerUserId": alice["id"],
        "newOwnerUserId": bob["id"],
        "applicationDataTransfers": [
            {
                "applicationId": "435070579839",
                "applicationTransferParams": [{"key": "RELEASE_RESOURCES", "value": ["TRUE"]}],
            }
        ],
    }
    batch.add(transfers.transfers().insert(body=body), request_id="one")
    batch.execute()
    transfer_id = answers["one"]["id"]
    statuses = [
        transfers.transfers().get(dataTransferId=transfer_id).execute()["overallTransferStatusCode"] for _ in range(2)
    ]
    assert statuses == ["inProgress", "failed"]
