"""orgunits.* methods (paths like '/Sales/East'; the root '/' always exists)."""

from . import errors, paging, resources, rules
from .routing import route

ORGUNIT_SCHEMA_FIELDS = {
    "blockInheritance",
    "description",
    "etag",
    "kind",
    "name",
    "orgUnitId",
    "orgUnitPath",
    "parentOrgUnitId",
    "parentOrgUnitPath",
}


def _not_found():
    return errors.ApiError(404, "notFound", "Org unit not found")


def _path(directory, key):
    path = directory.orgunit_path(key)
    if path is None or path == "/":
        raise _not_found()
    return path


@route("GET", "customer/{customerId}/orgunits", "orgunit", ("orgUnitPath", "type"), schema="OrgUnits")
def list_orgunits(req):
    directory, query = req.directory, req.query
    directory.check_customer(req.params["customerId"])
    kind = paging.enum(query, "type", ("all", "children", "allIncludingParent"), "children")
    parent = directory.orgunit_path(query.get("orgUnitPath") or "/")
    if parent is None:
        raise _not_found()
    prefix = parent.rstrip("/") + "/"
    paths = [p for p in directory.orgunits if p != "/" and p.startswith(prefix)]
    if kind == "children":
        paths = [p for p in paths if "/" not in p[len(prefix) :]]
    if kind == "allIncludingParent" and parent != "/":
        paths.append(parent)
    items = [resources.orgunit(p, directory) for p in sorted(paths)]
    return 200, resources.listing("admin#directory#orgUnits", "organizationUnits", items)


@route("POST", "customer/{customerId}/orgunits", "orgunit", schema="OrgUnit", body=True)
def insert_orgunit(req):
    directory, body = req.directory, req.body
    directory.check_customer(req.params["customerId"])
    rules.check_known_fields(body, ORGUNIT_SCHEMA_FIELDS)
    name = _checked_name(body)
    parent_key = body.get("parentOrgUnitPath") or body.get("parentOrgUnitId")
    parent = directory.orgunit_path(parent_key) if parent_key else None
    if parent is None:
        raise errors.invalid("Invalid Parent Orgunit Id")
    path = parent.rstrip("/") + "/" + name
    if path in directory.orgunits:
        raise errors.invalid("Invalid Ou Id")
    directory.orgunits[path] = {
        "orgUnitId": directory.new_orgunit_id(),
        "name": name,
        "description": body.get("description") or "",
        "blockInheritance": bool(body.get("blockInheritance", False)),
    }
    directory.changed = True
    return 200, resources.orgunit(path, directory)


@route("GET", "customer/{customerId}/orgunits/{+orgUnitPath}", "orgunit", schema="OrgUnit")
def get_orgunit(req):
    req.directory.check_customer(req.params["customerId"])
    return 200, resources.orgunit(_path(req.directory, req.params["orgUnitPath"]), req.directory)


@route("PATCH", "customer/{customerId}/orgunits/{+orgUnitPath}", "orgunit", schema="OrgUnit", body=True)
def patch_orgunit(req):
    directory, body = req.directory, req.body
    directory.check_customer(req.params["customerId"])
    rules.check_known_fields(body, ORGUNIT_SCHEMA_FIELDS)
    path = _path(directory, req.params["orgUnitPath"])
    unit = dict(directory.orgunits[path])
    parent = path.rsplit("/", 1)[0] or "/"
    if body.get("name") is not None:
        unit["name"] = _checked_name(body)
    parent_key = body.get("parentOrgUnitPath") or body.get("parentOrgUnitId")
    if parent_key:
        parent = directory.orgunit_path(parent_key)
        if parent is None or parent == path or parent.startswith(path + "/"):
            raise errors.invalid("Invalid Parent Orgunit Id")
    if body.get("description") is not None:
        unit["description"] = body["description"]
    if body.get("blockInheritance") is not None:
        unit["blockInheritance"] = rules.check_bool(body, "blockInheritance")
    new_path = parent.rstrip("/") + "/" + unit["name"]
    if new_path != path and new_path in directory.orgunits:
        raise errors.invalid("Invalid Ou Id")
    directory.orgunits[path] = unit
    if new_path != path:
        _move(directory, path, new_path)
    directory.changed = True
    return 200, resources.orgunit(new_path, directory)


route("PUT", "customer/{customerId}/orgunits/{+orgUnitPath}", "orgunit", schema="OrgUnit", body=True)(patch_orgunit)


@route("DELETE", "customer/{customerId}/orgunits/{+orgUnitPath}", "orgunit")
def delete_orgunit(req):
    directory = req.directory
    directory.check_customer(req.params["customerId"])
    path = _path(directory, req.params["orgUnitPath"])
    has_children = any(p.startswith(path + "/") for p in directory.orgunits)
    has_users = any(u.get("orgUnitPath", "/") == path for u in directory.users.values())
    if has_children or has_users:
        raise errors.ApiError(400, "failedPrecondition", "Org unit %s has users or child org units." % path)
    del directory.orgunits[path]
    directory.changed = True
    return 204, None


def _checked_name(body):
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or "/" in name or len(name) > 60:
        raise errors.invalid("Invalid Ou Name")
    return name.strip()


def _move(directory, old, new):
    """Rename a unit: its sub-units and the users in any of them follow."""

    def moved(path):
        if path == old or path.startswith(old + "/"):
            return new + path[len(old) :]
        return path

    directory.orgunits = {moved(p): unit for p, unit in directory.orgunits.items()}
    for user in directory.users.values():
        if "orgUnitPath" in user:
            user["orgUnitPath"] = moved(user["orgUnitPath"])
