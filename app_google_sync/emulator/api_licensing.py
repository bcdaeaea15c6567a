"""Enterprise License Manager (licensing v1) licenseAssignments.*, with a seat count per SKU.

Assignments are kept by user id and shown under the user's current primary address (userId), so a
renamed user keeps its licence. As Google documents, a user holds one SKU per product at a time: another
SKU of the product is reached with patch/update (reassign, the path naming the SKU held, the body the new
one). No licence left, a licence of the product already held (this SKU or another) and a reassignment to
the SKU held answer 412 conditionNotMet; an assignment that does not exist 404; an unknown SKU 400. With
``directory.auto_license`` ("product/sku"), each new user gets that licence at creation, as Google's
automatic licensing does.
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
    return {
        "kind": KIND,
        "productId": product,
        "skuId": sku,
        "userId": email,
        "productName": record["productName"],
        "skuName": record["skuName"],
        "etags": '"%s-%s"' % (sku, user_id),
        "selfLink": "https://licensing.googleapis.com/apps/licensing/v1/product/%s/sku/%s/user/%s"
        % (product, sku, email),
    }


def _user_id(directory, key):
    user = directory.find_user(key or "")
    if user is None:
        raise errors.ApiError(404, "notFound", "User does not exist.")
    return user["id"]


@route(
    "POST", "product/{productId}/sku/{skuId}/user", "licensing", schema="LicenseAssignment", body=True, api="licensing"
)
def insert_assignment(req):
    directory, (product, sku) = req.directory, (req.params["productId"], req.params["skuId"])
    record = _sku(directory, product, sku)
    user_id = _user_id(directory, (req.body or {}).get("userId"))
    held = held_sku(directory, product, user_id)
    if held is not None:
        raise errors.ApiError(
            412, "conditionNotMet", "User already has a license for product %s (sku %s)." % (product, held)
        )
    _take_seat(record, user_id)
    directory.changed = True
    return 200, _resource(directory, product, sku, record, user_id)


def held_sku(directory, product, user_id):
    """The SKU of ``product`` the user holds (one at most), or None."""
    return next(
        (
            key.partition("/")[2]
            for key, record in directory.skus.items()
            if key.partition("/")[0] == product and user_id in record["assigned"]
        ),
        None,
    )


def _take_seat(record, user_id):
    if len(record["assigned"]) >= record["seats"]:
        raise errors.ApiError(412, "conditionNotMet", "Not enough licenses available for %s." % record["skuName"])
    record["assigned"].append(user_id)


def auto_assign(directory, user_id):
    """Google's automatic licensing: a new user gets the account's default licence while seats remain."""
    record = directory.skus.get(directory.auto_license or "")
    if record is not None and len(record["assigned"]) < record["seats"]:
        record["assigned"].append(user_id)


def _reassign(req):
    directory, (product, old) = req.directory, (req.params["productId"], req.params["skuId"])
    current = _sku(directory, product, old)
    new = (req.body or {}).get("skuId")
    if not new:
        raise errors.required("skuId")
    record = _sku(directory, product, new)
    user_id = _user_id(directory, req.params["userId"])
    if user_id not in current["assigned"]:
        raise errors.ApiError(404, "notFound", "User does not have a license for specified sku and product")
    if new == old:
        raise errors.ApiError(
            412, "conditionNotMet", "For reassign operation new sku should be different than the old sku"
        )
    _take_seat(record, user_id)
    current["assigned"].remove(user_id)
    directory.changed = True
    return 200, _resource(directory, product, new, record, user_id)


@route(
    "PATCH",
    "product/{productId}/sku/{skuId}/user/{userId}",
    "licensing",
    schema="LicenseAssignment",
    body=True,
    api="licensing",
)
def patch_assignment(req):
    return _reassign(req)


@route(
    "PUT",
    "product/{productId}/sku/{skuId}/user/{userId}",
    "licensing",
    schema="LicenseAssignment",
    body=True,
    api="licensing",
)
def update_assignment(req):
    return _reassign(req)


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


def _listing(req, product, skus):
    directory, query = req.directory, req.query
    if query.get("customerId") not in (directory.customer_id, directory.primary_domain):
        raise errors.forbidden()
    limit = paging.max_results(query, 100, 1000)
    assigned = [
        (sku, user_id)
        for sku in skus
        for user_id in directory.skus["%s/%s" % (product, sku)]["assigned"]
        if user_id in directory.users
    ]
    chunk, token = paging.page(assigned, lambda pair: "%s/%s" % pair, limit, query.get("pageToken"))
    items = [
        _resource(directory, product, sku, directory.skus["%s/%s" % (product, sku)], user_id) for sku, user_id in chunk
    ]
    answer = {"kind": "licensing#licenseAssignmentList", "etag": '"%d"' % len(assigned)}
    if items:
        answer["items"] = items
    if token:
        answer["nextPageToken"] = token
    return 200, answer


@route(
    "GET",
    "product/{productId}/sku/{skuId}/users",
    "licensing",
    ("customerId", "maxResults", "pageToken"),
    schema="LicenseAssignmentList",
    api="licensing",
)
def list_assignments(req):
    product, sku = req.params["productId"], req.params["skuId"]
    _sku(req.directory, product, sku)
    return _listing(req, product, [sku])


@route(
    "GET",
    "product/{productId}/users",
    "licensing",
    ("customerId", "maxResults", "pageToken"),
    schema="LicenseAssignmentList",
    api="licensing",
)
def list_product_assignments(req):
    product = req.params["productId"]
    skus = sorted(key.partition("/")[2] for key in req.directory.skus if key.partition("/")[0] == product)
    if not skus:
        raise errors.ApiError(400, "invalid", "Invalid productId: %s" % product)
    return _listing(req, product, skus)
