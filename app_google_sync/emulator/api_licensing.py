"""Enterprise License Manager (licensing v1) licenseAssignments.*, with a seat count per SKU.

Assignments are kept by user id and shown under the user's current primary address (userId), so a
renamed user keeps its licence. No licence left answers 412 conditionNotMet; an assignment that already
exists 409 duplicate; one that does not 404.
"""

from . import errors, paging
from .routing import route

KIND = "licensing#licenseAssignment"


def _sku(directory, product, sku):
    found = directory.skus.get("%s/%s" % (product, sku))
    if found is None:
        raise errors.ApiError(400, "invalid", "Invalid productId or skuId: %s/%s" % (product, sku))
    return found


def _resource(directory, product, sku, record, user_id):
    email = directory.users[user_id]["primaryEmail"]
    return {"kind": KIND, "productId": product, "skuId": sku, "userId": email, "productName": record["productName"],
            "skuName": record["skuName"], "etags": '"%s-%s"' % (sku, user_id),
            "selfLink": "https://licensing.googleapis.com/apps/licensing/v1/product/%s/sku/%s/user/%s" % (product, sku, email)}


def _user_id(directory, key):
    user = directory.find_user(key or "")
    if user is None:
        raise errors.ApiError(404, "notFound", "User does not exist.")
    return user["id"]


@route("POST", "product/{productId}/sku/{skuId}/user", "licensing", schema="LicenseAssignment", body=True, api="licensing")
def insert_assignment(req):
    directory, (product, sku) = req.directory, (req.params["productId"], req.params["skuId"])
    record = _sku(directory, product, sku)
    user_id = _user_id(directory, (req.body or {}).get("userId"))
    if user_id in record["assigned"]:
        raise errors.duplicate()
    if len(record["assigned"]) >= record["seats"]:
        raise errors.ApiError(412, "conditionNotMet", "Not enough licenses available for %s." % record["skuName"])
    record["assigned"].append(user_id)
    directory.changed = True
    return 200, _resource(directory, product, sku, record, user_id)


@route("GET", "product/{productId}/sku/{skuId}/user/{userId}", "licensing", schema="LicenseAssignment", api="licensing")
def get_assignment(req):
    directory, (product, sku) = req.directory, (req.params["productId"], req.params["skuId"])
    record = _sku(directory, product, sku)
    user_id = _user_id(directory, req.params["userId"])
    if user_id not in record["assigned"]:
        raise errors.ApiError(404, "notFound", "User does not have a license for specified sku and product")
    return 200, _resource(directory, product, sku, record, user_id)


@route("DELETE", "product/{productId}/sku/{skuId}/user/{userId}", "licensing", api="licensing")
def delete_assignment(req):
    directory, (product, sku) = req.directory, (req.params["productId"], req.params["skuId"])
    record = _sku(directory, product, sku)
    user_id = _user_id(directory, req.params["userId"])
    if user_id not in record["assigned"]:
        raise errors.ApiError(404, "notFound", "User does not have a license for specified sku and product")
    record["assigned"].remove(user_id)
    directory.changed = True
    return 204, None


@route("GET", "product/{productId}/sku/{skuId}/users", "licensing", ("customerId", "maxResults", "pageToken"),
       schema="LicenseAssignmentList", api="licensing")
def list_assignments(req):
    directory, query, (product, sku) = req.directory, req.query, (req.params["productId"], req.params["skuId"])
    if query.get("customerId") not in (directory.customer_id, directory.primary_domain):
        raise errors.forbidden()
    record = _sku(directory, product, sku)
    limit = paging.max_results(query, 100, 1000)
    assigned = [user_id for user_id in record["assigned"] if user_id in directory.users]
    chunk, token = paging.page(assigned, lambda user_id: user_id, limit, query.get("pageToken"))
    items = [_resource(directory, product, sku, record, user_id) for user_id in chunk]
    answer = {"kind": "licensing#licenseAssignmentList", "etag": '"%d"' % len(assigned)}
    if items:
        answer["items"] = items
    if token:
        answer["nextPageToken"] = token
    return 200, answer
