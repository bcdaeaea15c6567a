"""The Data Transfer API (admin.datatransfer v1): applications.* and transfers.*, with Google's rules.

- Users are named by their Google id (oldOwnerUserId, newOwnerUserId), never by address: an address, or an id no
  user has, is refused with 400. Old and new owner must differ.
- Applications: Drive and Docs (55656082996, PRIVACY_LEVEL SHARED and/or PRIVATE) and Calendar (435070579839,
  RELEASE_RESOURCES TRUE); another id is refused with 400.
- A transfer runs asynchronously: inserted "new", it moves one step each time it is read (transfers.get or list):
  new → inProgress → completed; ``directory.transfer_failures`` transfers end "failed" instead (tests set it). On
  completion the old owner's Drive files (``directory.drive_files``, by user id) of the privacy levels asked move to
  the new owner; a shared file is one whose name starts with "shared:".
- Scope admin.datatransfer (reads also admin.datatransfer.readonly).
"""

from . import errors, paging
from .routing import route
from .state import now_rfc3339

DRIVE, CALENDAR = "55656082996", "435070579839"
APPLICATIONS = {
    DRIVE: {"name": "Drive and Docs", "transferParams": [{"key": "PRIVACY_LEVEL", "value": ["PRIVATE", "SHARED"]}]},
    CALENDAR: {"name": "Calendar", "transferParams": [{"key": "RELEASE_RESOURCES", "value": ["TRUE"]}]},
}
STEPS = ("new", "inProgress", "completed")


def _application(app_id):
    record = APPLICATIONS[app_id]
    return {
        "kind": "admin#datatransfer#ApplicationResource",
        "id": app_id,
        "name": record["name"],
        "transferParams": record["transferParams"],
        "etag": '"%s"' % app_id,
    }


@route(
    "GET",
    "applications",
    "datatransfer",
    ("customerId", "maxResults", "pageToken"),
    schema="ApplicationsListResponse",
    api="datatransfer",
)
def list_applications(req):
    if req.query.get("customerId"):
        req.directory.check_customer(req.query["customerId"])
    return 200, {
        "kind": "admin#datatransfer#applicationsList",
        "applications": [_application(key) for key in APPLICATIONS],
    }


@route("GET", "applications/{applicationId}", "datatransfer", schema="Application", api="datatransfer")
def get_application(req):
    if req.params["applicationId"] not in APPLICATIONS:
        raise errors.ApiError(404, "notFound", "Application not found.")
    return 200, _application(req.params["applicationId"])


def _owner(directory, body, key):
    value = body.get(key)
    if not value:
        raise errors.required(key)
    if str(value) not in directory.users:  # an address is not an id: Google refuses it
        raise errors.invalid("Invalid value for %s: %s (give the user's id, not an address)" % (key, value))
    return str(value)


def _checked_applications(items):
    if not items:
        raise errors.required("applicationDataTransfers")
    checked = []
    for item in items:
        app_id = str(item.get("applicationId", ""))
        if app_id not in APPLICATIONS:
            raise errors.invalid("Invalid applicationId: %s" % app_id)
        allowed = {param["key"]: set(param["value"]) for param in APPLICATIONS[app_id]["transferParams"]}
        for param in item.get("applicationTransferParams", []):
            if param.get("key") not in allowed or not set(param.get("value", [])) <= allowed[param["key"]]:
                raise errors.invalid("Invalid transfer parameter %s for application %s" % (param.get("key"), app_id))
        checked.append(
            {
                "applicationId": app_id,
                "applicationTransferParams": item.get("applicationTransferParams", []),
                "applicationTransferStatus": "pending",
            }
        )
    return checked


@route("POST", "transfers", "datatransfer", schema="DataTransfer", body=True, api="datatransfer")
def insert_transfer(req):
    directory, body = req.directory, req.body or {}
    old, new = _owner(directory, body, "oldOwnerUserId"), _owner(directory, body, "newOwnerUserId")
    if old == new:
        raise errors.invalid("The old and new owner must be different users.")
    transfer_id = "AKrEtIb%06d" % (len(directory.transfers) + 1)
    failing = directory.transfer_failures > 0
    directory.transfer_failures -= failing
    directory.transfers[transfer_id] = {
        "id": transfer_id,
        "oldOwnerUserId": old,
        "newOwnerUserId": new,
        "applicationDataTransfers": _checked_applications(body.get("applicationDataTransfers")),
        "overallTransferStatusCode": "new",
        "requestTime": now_rfc3339(),
        "fails": failing,
    }
    directory.changed = True
    return 200, _resource(directory.transfers[transfer_id])


def _resource(record):
    return {
        "kind": "admin#datatransfer#DataTransfer",
        "etag": '"%s-%s"' % (record["id"], record["overallTransferStatusCode"]),
        **{key: value for key, value in record.items() if key != "fails"},
    }


def _advance(directory, record):
    """One step on, as time passes at Google; a completed Drive transfer hands the files over."""
    status = record["overallTransferStatusCode"]
    if status in ("completed", "failed"):
        return
    following = STEPS[STEPS.index(status) + 1]
    if following == "completed" and record["fails"]:
        following = "failed"
    record["overallTransferStatusCode"] = following
    for item in record["applicationDataTransfers"]:
        item["applicationTransferStatus"] = {"inProgress": "inProgress", "completed": "completed", "failed": "failed"}[
            following
        ]
    if following == "completed":
        _hand_over(directory, record)
    directory.changed = True


def _hand_over(directory, record):
    for item in record["applicationDataTransfers"]:
        if item["applicationId"] != DRIVE:
            continue
        levels = {
            level
            for param in item["applicationTransferParams"]
            if param.get("key") == "PRIVACY_LEVEL"
            for level in param["value"]
        }
        files = directory.drive_files.setdefault(record["oldOwnerUserId"], [])
        moving = [name for name in files if ("SHARED" if name.startswith("shared:") else "PRIVATE") in levels]
        directory.drive_files[record["oldOwnerUserId"]] = [name for name in files if name not in moving]
        directory.drive_files.setdefault(record["newOwnerUserId"], []).extend(moving)


@route("GET", "transfers/{dataTransferId}", "datatransfer", schema="DataTransfer", api="datatransfer")
def get_transfer(req):
    record = req.directory.transfers.get(req.params["dataTransferId"])
    if record is None:
        raise errors.ApiError(404, "notFound", "Transfer not found.")
    _advance(req.directory, record)
    return 200, _resource(record)


@route(
    "GET",
    "transfers",
    "datatransfer",
    ("customerId", "maxResults", "newOwnerUserId", "oldOwnerUserId", "pageToken", "status"),
    schema="DataTransfersListResponse",
    api="datatransfer",
)
def list_transfers(req):
    directory, query = req.directory, req.query
    if query.get("customerId"):
        directory.check_customer(query["customerId"])
    chosen = [
        record
        for record in directory.transfers.values()
        if all(not query.get(key) or record[key] == query[key] for key in ("oldOwnerUserId", "newOwnerUserId"))
        and (not query.get("status") or record["overallTransferStatusCode"] == query["status"])
    ]
    chunk, token = paging.page(
        chosen, lambda record: record["id"], paging.max_results(query, 100, 500), query.get("pageToken")
    )
    answer = {"kind": "admin#datatransfer#dataTransfersList", "dataTransfers": [_resource(record) for record in chunk]}
    if token:
        answer["nextPageToken"] = token
    return 200, answer
