"""users.* and users.aliases.* methods."""

from . import api_licensing, api_schemas, errors, paging, password_store, resources, rules
from .routing import route
from .state import now_rfc3339

USER_SCHEMA_FIELDS = {
    "addresses",
    "agreedToTerms",
    "aliases",
    "archivalTime",
    "archived",
    "changePasswordAtNextLogin",
    "creationTime",
    "customSchemas",
    "customerId",
    "deletionTime",
    "emails",
    "etag",
    "externalIds",
    "gender",
    "guestAccountInfo",
    "hashFunction",
    "id",
    "ims",
    "includeInGlobalAddressList",
    "ipWhitelisted",
    "isAdmin",
    "isDelegatedAdmin",
    "isEnforcedIn2Sv",
    "isEnrolledIn2Sv",
    "isGuestUser",
    "isMailboxSetup",
    "keywords",
    "kind",
    "languages",
    "lastLoginTime",
    "locations",
    "name",
    "nonEditableAliases",
    "notes",
    "orgUnitPath",
    "organizations",
    "password",
    "phones",
    "posixAccounts",
    "primaryEmail",
    "recoveryEmail",
    "recoveryPhone",
    "relations",
    "sshPublicKeys",
    "suspended",
    "suspensionReason",
    "suspensionTime",
    "thumbnailPhotoEtag",
    "thumbnailPhotoUrl",
    "websites",
}
# Output-only fields: Google ignores them in a request body.
READ_ONLY = {
    "agreedToTerms",
    "aliases",
    "archivalTime",
    "creationTime",
    "customerId",
    "deletionTime",
    "etag",
    "guestAccountInfo",
    "id",
    "isAdmin",
    "isDelegatedAdmin",
    "isEnforcedIn2Sv",
    "isEnrolledIn2Sv",
    "isGuestUser",
    "isMailboxSetup",
    "kind",
    "lastLoginTime",
    "nonEditableAliases",
    "suspensionReason",
    "suspensionTime",
    "thumbnailPhotoEtag",
    "thumbnailPhotoUrl",
}
BOOLEAN_FIELDS = {"archived", "changePasswordAtNextLogin", "includeInGlobalAddressList", "ipWhitelisted", "suspended"}
STRING_FIELDS = {"orgUnitPath", "recoveryEmail", "recoveryPhone"}
# Handled on their own; every other writable field is stored and echoed as sent.
SPECIAL = {"primaryEmail", "name", "password", "hashFunction", "orgUnitPath", "customSchemas"}

LIST_PARAMS = (
    "customer",
    "domain",
    "maxResults",
    "pageToken",
    "orderBy",
    "sortOrder",
    "query",
    "showDeleted",
    "projection",
    "customFieldMask",
    "viewType",
    "event",
)
SORT_FIELDS = {"email": "primaryEmail", "givenName": "givenName", "familyName": "familyName"}


# users ---------------------------------------------------------------------------------------
@route("GET", "users", "user", LIST_PARAMS, schema="Users")
def list_users(req):
    directory, query = req.directory, req.query
    if "customer" not in query and "domain" not in query:
        raise errors.bad_request()
    if "customer" in query:
        directory.check_customer(query["customer"])
    if "domain" in query:
        directory.check_domain(query["domain"])
    limit = paging.max_results(query, 100, 500)
    order = paging.enum(query, "orderBy", SORT_FIELDS, "email")
    descending = paging.enum(query, "sortOrder", ("ASCENDING", "DESCENDING")) == "DESCENDING"
    paging.enum(query, "projection", ("basic", "custom", "full"))
    paging.enum(query, "viewType", ("admin_view", "domain_public"))
    if query.get("showDeleted") == "true":
        candidates = []  # deleted users are not kept
    else:
        candidates = [u for u in directory.users.values() if _in_domain(u, query.get("domain"))]
    matches = _user_filter(query.get("query", ""))
    candidates = [u for u in candidates if matches(u)]
    chunk, token = paging.page(
        candidates, lambda u: (_sort_value(u, order), u["id"]), limit, query.get("pageToken"), descending
    )
    items = [api_schemas.projected(resources.user(u, directory), u, query) for u in chunk]
    return 200, resources.listing("admin#directory#users", "users", items, token)


@route("POST", "users", "user", ("resolveConflictAccount",), schema="User", body=True)
def insert_user(req):
    directory, body = req.directory, req.body
    rules.check_known_fields(body, USER_SCHEMA_FIELDS)
    address = rules.check_address(body.get("primaryEmail"), directory.verified_domains, "primary_user_email")
    name = _checked_name({}, body.get("name"))
    if "password" not in body:
        raise errors.invalid("Invalid Password")
    password = rules.check_password(body["password"], body.get("hashFunction"))
    record = {
        "id": directory.new_numeric_id(),
        "primaryEmail": address,
        "name": name,
        "password": password_store.to_stored(password, body.get("hashFunction")),
        "creationTime": now_rfc3339(),
        "orgUnitPath": "/",
    }
    _apply_plain_fields(record, body, directory)
    if "customSchemas" in body:
        api_schemas.apply_custom_schemas(directory, record, body["customSchemas"])
    directory.add_user(record)
    api_licensing.auto_assign(directory, record["id"])
    req.lag.created("user", record["id"])
    return 200, resources.user(record, directory)


@route("GET", "users/{userKey}", "user", ("projection", "customFieldMask", "viewType"), schema="User")
def get_user(req):
    record = req.directory.user(req.params["userKey"])
    return 200, api_schemas.projected(resources.user(record, req.directory), record, req.query)


@route("PATCH", "users/{userKey}", "user", schema="User", body=True)
def patch_user(req):
    """Only the fields sent change; `name` merges; an array replaces the stored one whole."""
    directory, body = req.directory, req.body
    record = directory.user(req.params["userKey"])
    req.lag.check_user(record)
    rules.check_known_fields(body, USER_SCHEMA_FIELDS)
    changed = dict(record)
    if body.get("name") is not None:
        changed["name"] = _checked_name(record["name"], body["name"])
    if body.get("password") is not None:
        password = rules.check_password(body["password"], body.get("hashFunction"))
        changed["password"] = password_store.to_stored(password, body.get("hashFunction"))
    _apply_plain_fields(changed, body, directory)
    if "customSchemas" in body:
        api_schemas.apply_custom_schemas(directory, changed, body["customSchemas"])
    if body.get("primaryEmail") is not None:
        _rename(directory, record, changed, body["primaryEmail"])
    if changed["primaryEmail"] != record["primaryEmail"]:
        req.lag.new_address(changed["primaryEmail"])
    record.clear()
    record.update(changed)
    directory.changed = True
    return 200, resources.user(record, directory)


# Google documents users.update as having patch semantics: omitted fields are kept.
route("PUT", "users/{userKey}", "user", schema="User", body=True)(patch_user)


@route("DELETE", "users/{userKey}", "user")
def delete_user(req):
    record = req.directory.user(req.params["userKey"])
    req.lag.check_user(record)
    req.directory.remove_user(record)
    return 204, None


@route("POST", "users/{userKey}/makeAdmin", "user", body=True)
def make_admin(req):
    record = req.directory.user(req.params["userKey"])
    req.lag.check_user(record)
    rules.check_known_fields(req.body, {"status"})
    if "status" not in req.body:
        raise errors.required("status")
    record["isAdmin"] = rules.check_bool(req.body, "status")
    req.directory.changed = True
    return 204, None


# users.aliases -------------------------------------------------------------------------------
@route("GET", "users/{userKey}/aliases", "user.alias", ("event",), schema="Aliases")
def list_aliases(req):
    record = req.directory.user(req.params["userKey"])
    items = [resources.alias(record["id"], record["primaryEmail"], a) for a in record.get("aliases", [])]
    return 200, resources.listing("admin#directory#aliases", "aliases", items)


@route("POST", "users/{userKey}/aliases", "user.alias", schema="Alias", body=True)
def insert_alias(req):
    directory = req.directory
    record = directory.user(req.params["userKey"])
    req.lag.check_user(record)
    alias = add_alias(directory, record, "user", record["id"], record["primaryEmail"], req.body)
    req.lag.new_address(alias["alias"])
    return 200, alias


@route("DELETE", "users/{userKey}/aliases/{alias}", "user.alias")
def delete_alias(req):
    record = req.directory.user(req.params["userKey"])
    remove_alias(req.directory, record, req.params["alias"])
    return 204, None


def add_alias(directory, record, kind, owner_id, primary, body):
    """Shared by users and groups: validate, reserve and attach an alias address."""
    rules.check_known_fields(body, {"alias", "etag", "id", "kind", "primaryEmail"})
    if not body.get("alias"):
        raise errors.required("alias")
    address = rules.check_address(body["alias"], directory.alias_domains, "alias")
    directory.claim(address, kind, owner_id)
    aliases = record.setdefault("aliases", [])
    if address not in aliases and address != primary:
        aliases.append(address)
    directory.changed = True
    return resources.alias(owner_id, primary, address)


def remove_alias(directory, record, address):
    address = address.lower()
    if address not in record.get("aliases", []):
        raise errors.not_found("alias")
    record["aliases"].remove(address)
    directory.release(address)
    directory.changed = True


# helpers -------------------------------------------------------------------------------------
def _checked_name(current, sent):
    if sent is not None and not isinstance(sent, dict):
        raise errors.bad_value("resource.name", "TYPE_MESSAGE", sent)
    name = dict(current)
    for field, value in (sent or {}).items():
        if field not in ("givenName", "familyName", "fullName", "displayName"):
            raise errors.invalid(
                "Invalid JSON payload received. Unknown name \"%s\" at 'resource.name': Cannot find field." % field
            )
        if field in ("givenName", "familyName", "displayName") and value is not None:
            name[field] = value
    rules.check_name_part(name.get("givenName"), "GivenName")
    rules.check_name_part(name.get("familyName"), "FamilyName")
    return name


def _apply_plain_fields(record, body, directory):
    """Copy the writable fields Google stores as sent (null clears a field)."""
    for field, value in body.items():
        if field in READ_ONLY or field in SPECIAL - {"orgUnitPath"}:
            continue
        if value is None:
            record.pop(field, None)
            continue
        if field in BOOLEAN_FIELDS:
            value = rules.check_bool(body, field)
        elif field in STRING_FIELDS:
            value = rules.check_string(body, field)
        if field == "orgUnitPath":
            value = directory.orgunit_path(value)
            if value is None:
                raise errors.invalid("Invalid Input: INVALID_OU_ID")
        record[field] = value


def _rename(directory, record, changed, new_address):
    """Change the primary address; Google keeps the old one as an alias."""
    new = rules.check_address(new_address, directory.verified_domains, "primary_user_email")
    old = record["primaryEmail"]
    if new == old:
        return
    directory.claim(new, "user", record["id"])
    aliases = [a for a in changed.get("aliases", []) if a != new]
    changed["aliases"] = aliases + [old]
    changed["primaryEmail"] = new


def _in_domain(user, domain):
    return domain is None or user["primaryEmail"].endswith("@" + domain.lower())


def _sort_value(user, order):
    field = SORT_FIELDS[order]
    value = user["primaryEmail"] if field == "primaryEmail" else user["name"][field]
    return value.lower()


def _user_filter(text):
    """Google's user search, reduced to the terms a sync tool uses.

    `field:value` matches a prefix (a trailing `*` is allowed), `field=value` matches exactly;
    fields: email, givenName, familyName, isSuspended, isAdmin, orgUnitPath.
    """
    tests = [_term(term) for term in text.split()]
    return lambda user: all(test(user) for test in tests)


def _term(term):
    for operator in ("=", ":"):
        field, sep, value = term.partition(operator)
        if sep and field and ":" not in field and "=" not in field:
            break
    else:
        raise errors.invalid("Invalid Input: query")
    value = value.strip("'\"")
    if field in ("isSuspended", "isAdmin"):
        if value.lower() not in ("true", "false"):
            raise errors.invalid("Invalid Input: query")
        wanted = value.lower() == "true"
        key = "suspended" if field == "isSuspended" else "isAdmin"
        return lambda user: bool(user.get(key, False)) == wanted
    getters = {
        "email": lambda u: [u["primaryEmail"], *u.get("aliases", [])],
        "givenName": lambda u: [u["name"]["givenName"]],
        "familyName": lambda u: [u["name"]["familyName"]],
        "orgUnitPath": lambda u: [u.get("orgUnitPath", "/")],
    }
    if field not in getters:
        raise errors.invalid("Invalid Input: query")
    value = value.lower()
    if operator == ":" or value.endswith("*"):
        value = value.rstrip("*")
        return lambda user: any(v.lower().startswith(value) for v in getters[field](user))
    return lambda user: any(v.lower() == value for v in getters[field](user))
