"""members.* methods: users, groups, the whole customer, or external addresses in a group."""

from . import errors, paging, resources, rules
from .routing import route

MEMBER_SCHEMA_FIELDS = {"delivery_settings", "email", "etag", "id", "kind", "role", "status", "type"}
ROLES = ("OWNER", "MANAGER", "MEMBER")
DELIVERY = ("ALL_MAIL", "DAILY", "DIGEST", "DISABLED", "NONE")


@route(
    "GET",
    "groups/{groupKey}/members",
    "member",
    ("maxResults", "pageToken", "roles", "includeDerivedMembership"),
    schema="Members",
)
def list_members(req):
    directory, query = req.directory, req.query
    group = _group(req)
    limit = paging.max_results(query, 200, 200)
    roles = None
    if query.get("roles"):
        roles = {role.strip().upper() for role in query["roles"].split(",")}
        if not roles <= set(ROLES):
            raise errors.invalid("Invalid Input: roles")
    if query.get("includeDerivedMembership") == "true":
        records = _derived_members(directory, group["id"])
        position = {record["id"]: index for index, record in enumerate(records)}
        order = lambda r: ("%012d" % position[r["id"]], r["id"])  # noqa: E731
    else:
        records = list(directory.members[group["id"]].values())
        # Insertion order; a sequence number keeps pages right when members come and go.
        order = lambda r: ("%012d" % r.get("seq", 0), r["id"])  # noqa: E731
    records = [r for r in records if roles is None or r["role"] in roles]
    chunk, token = paging.page(records, order, limit, query.get("pageToken"))
    items = [resources.member(r, directory) for r in chunk]
    return 200, resources.listing("admin#directory#members", "members", items, token)


@route("POST", "groups/{groupKey}/members", "member", schema="Member", body=True)
def insert_member(req):
    directory, body = req.directory, req.body
    group = _group(req)
    rules.check_known_fields(body, MEMBER_SCHEMA_FIELDS)
    record = _new_member(directory, group, body)
    if record["type"] in ("USER", "GROUP"):
        req.lag.check_member(body.get("email") or body["id"], record["type"], record["id"])
    members = directory.members[group["id"]]
    if record["id"] in members:
        raise errors.duplicate("Member already exists.")
    _apply_fields(record, body)
    group["memberSeq"] = record["seq"] = group.get("memberSeq", 0) + 1
    members[record["id"]] = record
    directory.changed = True
    return 200, resources.member(record, directory)


@route("GET", "groups/{groupKey}/members/{memberKey}", "member", schema="Member")
def get_member(req):
    record = _member(req)
    return 200, resources.member(record, req.directory)


@route("PATCH", "groups/{groupKey}/members/{memberKey}", "member", schema="Member", body=True)
def patch_member(req):
    record = _member(req)
    rules.check_known_fields(req.body, MEMBER_SCHEMA_FIELDS)
    changed = dict(record)
    _apply_fields(changed, req.body)
    record.update(changed)
    req.directory.changed = True
    return 200, resources.member(record, req.directory)


route("PUT", "groups/{groupKey}/members/{memberKey}", "member", schema="Member", body=True)(patch_member)


@route("DELETE", "groups/{groupKey}/members/{memberKey}", "member")
def delete_member(req):
    directory = req.directory
    record = _member(req)
    del directory.members[_group(req)["id"]][record["id"]]
    directory.changed = True
    return 204, None


@route("GET", "groups/{groupKey}/hasMember/{memberKey}", "member", schema="MembersHasMember")
def has_member(req):
    """Direct or nested membership; nested checks only work inside the account's domains."""
    directory = req.directory
    group = _group(req)
    key = req.params["memberKey"]
    target = directory.find_user(key) or directory.find_group(key)
    if target is None and directory.external.get(key.lower()) in directory.members[group["id"]]:
        return 200, {"isMember": True}
    if target is None:
        if directory.in_our_domains(key):
            raise errors.not_found("memberKey")
        raise errors.invalid("Invalid Input: memberKey")
    nested = {r["id"] for r in _derived_members(directory, group["id"])}
    return 200, {"isMember": target["id"] in nested or target["id"] in directory.members[group["id"]]}


def _new_member(directory, group, body):
    """Resolve what is being added: a user, a group, the customer, or an external address."""
    if body.get("id") and body["id"] == directory.customer_id:
        return {"id": directory.customer_id, "type": "CUSTOMER", "role": "MEMBER"}
    key = body.get("email") or body.get("id")
    if not key or not isinstance(key, str):
        raise errors.required("member")
    user = directory.find_user(key)
    if user is not None:
        return {"id": user["id"], "type": "USER", "role": "MEMBER"}
    nested = directory.find_group(key)
    if nested is not None:
        if nested["id"] == group["id"]:
            raise errors.invalid("Invalid Input: memberKey")
        return {"id": nested["id"], "type": "GROUP", "role": "MEMBER"}
    parts = rules.split_address(key)
    if parts is None:
        raise errors.invalid("Invalid Input: memberKey")
    address = "%s@%s" % parts
    if directory.in_our_domains(address):
        raise errors.not_found("memberKey")
    ident = directory.external.setdefault(address, directory.new_numeric_id())
    return {"id": ident, "type": "EXTERNAL", "role": "MEMBER", "email": address}


def _apply_fields(record, body):
    if body.get("role") is not None:
        if body["role"] not in ROLES:
            raise errors.invalid("Invalid Input: role")
        record["role"] = body["role"]
    if body.get("delivery_settings") is not None:
        if body["delivery_settings"] not in DELIVERY:
            raise errors.invalid("Invalid Input: delivery_settings")
        record["delivery_settings"] = body["delivery_settings"]


def _group(req):
    """The group of a members.* call (a just-created one is not found yet)."""
    key = req.params["groupKey"]
    group = req.directory.group(key)
    req.lag.check_group(key, group)
    return group


def _member(req):
    directory, member_key = req.directory, req.params["memberKey"]
    members = directory.members[_group(req)["id"]]
    if member_key in members:
        return members[member_key]
    target = directory.find_user(member_key) or directory.find_group(member_key)
    ident = target["id"] if target else directory.external.get(member_key.lower())
    if ident not in members:
        raise errors.not_found("memberKey")
    return members[ident]


def _derived_members(directory, group_id, seen=None):
    """Members of a group and, through nested groups, of its sub-groups (each once)."""
    seen = seen if seen is not None else {group_id}
    result = []
    for record in directory.members[group_id].values():
        result.append(record)
        if record["type"] == "GROUP" and record["id"] not in seen:
            seen.add(record["id"])
            result.extend(_derived_members(directory, record["id"], seen))
    unique = {}
    for record in result:
        unique.setdefault(record["id"], record)
    return list(unique.values())
