"""groups.* and groups.aliases.* methods."""

from . import errors, paging, resources, rules
from .api_users import add_alias, remove_alias
from .routing import route

GROUP_SCHEMA_FIELDS = {
    "adminCreated",
    "aliases",
    "description",
    "directMembersCount",
    "email",
    "etag",
    "externalIds",
    "id",
    "kind",
    "name",
    "nonEditableAliases",
}
NAME_MAX, DESCRIPTION_MAX = 75, 4096


@route(
    "GET",
    "groups",
    "group",
    ("customer", "domain", "userKey", "maxResults", "pageToken", "orderBy", "sortOrder", "query"),
    schema="Groups",
)
def list_groups(req):
    directory, query = req.directory, req.query
    if not {"customer", "domain", "userKey"} & set(query):
        raise errors.bad_request()
    if "customer" in query:
        directory.check_customer(query["customer"])
    if "domain" in query:
        directory.check_domain(query["domain"])
    limit = paging.max_results(query, 200, 200)
    paging.enum(query, "orderBy", ("email",))
    descending = paging.enum(query, "sortOrder", ("ASCENDING", "DESCENDING")) == "DESCENDING"
    candidates = list(directory.groups.values())
    if "domain" in query:
        candidates = [g for g in candidates if g["email"].endswith("@" + query["domain"].lower())]
    if "userKey" in query:
        member_id = _member_id_of(directory, query["userKey"])
        candidates = [g for g in candidates if member_id in directory.members[g["id"]]]
    candidates = [g for g in candidates if _group_matches(g, query.get("query", ""))]
    chunk, token = paging.page(candidates, lambda g: (g["email"], g["id"]), limit, query.get("pageToken"), descending)
    items = [resources.group(g, directory) for g in chunk]
    return 200, resources.listing("admin#directory#groups", "groups", items, token)


@route("POST", "groups", "group", schema="Group", body=True)
def insert_group(req):
    directory, body = req.directory, req.body
    rules.check_known_fields(body, GROUP_SCHEMA_FIELDS)
    if not body.get("email"):
        raise errors.required("email")
    address = rules.check_address(body["email"], directory.verified_domains, "email")
    record = {"id": directory.new_group_id(), "email": address, "name": address.split("@")[0], "description": ""}
    apply_fields(record, body)
    directory.add_group(record)
    req.lag.created("group", record["id"])
    return 200, resources.group(record, directory)


@route("GET", "groups/{groupKey}", "group", schema="Group")
def get_group(req):
    return 200, resources.group(req.directory.group(req.params["groupKey"]), req.directory)


@route("PATCH", "groups/{groupKey}", "group", schema="Group", body=True)
def patch_group(req):
    directory, body = req.directory, req.body
    record = directory.group(req.params["groupKey"])
    rules.check_known_fields(body, GROUP_SCHEMA_FIELDS)
    changed = dict(record)
    apply_fields(changed, body)
    if body.get("email"):
        new = rules.check_address(body["email"], directory.verified_domains, "email")
        if new != record["email"]:
            directory.claim(new, "group", record["id"])
            changed["aliases"] = [a for a in record.get("aliases", []) if a != new] + [record["email"]]
            changed["email"] = new
            req.lag.new_address(new)
    record.clear()
    record.update(changed)
    directory.changed = True
    return 200, resources.group(record, directory)


route("PUT", "groups/{groupKey}", "group", schema="Group", body=True)(patch_group)


@route("DELETE", "groups/{groupKey}", "group")
def delete_group(req):
    req.directory.remove_group(req.directory.group(req.params["groupKey"]))
    return 204, None


@route("GET", "groups/{groupKey}/aliases", "group", schema="Aliases")
def list_group_aliases(req):
    record = req.directory.group(req.params["groupKey"])
    items = [resources.alias(record["id"], record["email"], a) for a in record.get("aliases", [])]
    return 200, resources.listing("admin#directory#aliases", "aliases", items)


@route("POST", "groups/{groupKey}/aliases", "group", schema="Alias", body=True)
def insert_group_alias(req):
    record = req.directory.group(req.params["groupKey"])
    alias = add_alias(req.directory, record, "group", record["id"], record["email"], req.body)
    req.lag.new_address(alias["alias"])
    return 200, alias


@route("DELETE", "groups/{groupKey}/aliases/{alias}", "group")
def delete_group_alias(req):
    remove_alias(req.directory, req.directory.group(req.params["groupKey"]), req.params["alias"])
    return 204, None


def apply_fields(record, body):
    if body.get("name") is not None:
        name = rules.check_string(body, "name")
        if not name.strip() or len(name) > NAME_MAX:
            raise errors.invalid("Invalid Input: name")
        record["name"] = name
    if body.get("description") is not None:
        description = rules.check_string(body, "description")
        if len(description) > DESCRIPTION_MAX:
            raise errors.invalid("Invalid Input: description")
        record["description"] = description


def _member_id_of(directory, key):
    """The member id a user/group key stands for; external addresses keep their own id."""
    target = directory.find_user(key) or directory.find_group(key)
    if target is not None:
        return target["id"]
    return directory.external.get(key.lower())


def _group_matches(group, text):
    """Minimal group search: `email:prefix`, `name:prefix` (or `=` for exact)."""
    for term in text.split():
        field, operator, value = _split_term(term)
        actual = group.get(field, "").lower()
        value = value.strip("'\"").lower()
        if operator == ":" or value.endswith("*"):
            if not actual.startswith(value.rstrip("*")):
                return False
        elif actual != value:
            return False
    return True


def _split_term(term):
    for operator in ("=", ":"):
        field, sep, value = term.partition(operator)
        if sep and field in ("email", "name"):
            return field, operator, value
    raise errors.invalid("Invalid Input: query")
