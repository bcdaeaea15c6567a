"""schemas.* (custom user attributes) and the rules users.insert/patch apply to a user's customSchemas.

Field types and their values, as Google takes them: STRING, EMAIL and PHONE are text; INT64 a whole number
(JSON number or string); DOUBLE a number; BOOL true or false; DATE an ISO 8601 date (yyyy-mm-dd). A
multi-valued field is an array of {"value": …} objects, a single-valued one a plain value; null removes it.
"""

import re

from . import errors, resources
from .routing import route

FIELD_TYPES = ("STRING", "INT64", "BOOL", "DOUBLE", "EMAIL", "PHONE", "DATE")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT = re.compile(r"[+-]?\d{1,19}")


@route("GET", "customer/{customerId}/schemas", "userschema", schema="Schemas")
def list_schemas(req):
    directory = req.directory
    directory.check_customer(req.params["customerId"])
    items = [resources.schema(record) for _, record in sorted(directory.schemas.items())]
    return 200, {
        "kind": "admin#directory#schemas",
        "etag": resources.etag(items),
        **({"schemas": items} if items else {}),
    }


@route("GET", "customer/{customerId}/schemas/{schemaKey}", "userschema", schema="Schema")
def get_schema(req):
    req.directory.check_customer(req.params["customerId"])
    return 200, resources.schema(_schema(req.directory, req.params["schemaKey"]))


@route("POST", "customer/{customerId}/schemas", "userschema", schema="Schema", body=True)
def insert_schema(req):
    directory, body = req.directory, req.body
    directory.check_customer(req.params["customerId"])
    name = body.get("schemaName")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise errors.invalid("Invalid Input: schemaName")
    if name.lower() in {known.lower() for known in directory.schemas}:
        raise errors.duplicate()
    fields = []
    for spec in body.get("fields") or []:
        if spec.get("fieldType") not in FIELD_TYPES or not spec.get("fieldName"):
            raise errors.invalid("Invalid Input: fieldType")
        fields.append(
            {
                "fieldName": spec["fieldName"],
                "fieldType": spec["fieldType"],
                "multiValued": bool(spec.get("multiValued", False)),
                "fieldId": directory.new_orgunit_id()[3:],
                "readAccessType": spec.get("readAccessType", "ALL_DOMAIN_USERS"),
                "displayName": spec.get("displayName", spec["fieldName"]),
            }
        )
    record = {
        "schemaId": directory.new_orgunit_id()[3:],
        "schemaName": name,
        "displayName": body.get("displayName", name),
        "fields": fields,
    }
    directory.schemas[name] = record
    directory.changed = True
    return 200, resources.schema(record)


def _schema(directory, key):
    found = next((record for name, record in directory.schemas.items() if key in (name, record["schemaId"])), None)
    if found is None:
        raise errors.ApiError(404, "notFound", "Resource Not Found: schemaKey")
    return found


def apply_custom_schemas(directory, record, sent):
    """Check a user's customSchemas against the account's schemas, then merge them into the stored record."""
    if sent is None:
        record.pop("customSchemas", None)
        return
    if not isinstance(sent, dict):
        raise errors.invalid("Invalid Input: customSchemas")
    stored = dict(record.get("customSchemas") or {})
    for schema_name, values in sent.items():
        schema = directory.schemas.get(schema_name)
        if schema is None:
            raise errors.invalid("Invalid Input: custom schema %s" % schema_name)
        if values is None:
            stored.pop(schema_name, None)
            continue
        merged = dict(stored.get(schema_name) or {})
        specs = {spec["fieldName"]: spec for spec in schema["fields"]}
        for field_name, value in values.items():
            spec = specs.get(field_name)
            if spec is None:
                raise errors.invalid("Invalid Input: custom field %s.%s" % (schema_name, field_name))
            if value is None:
                merged.pop(field_name, None)
            else:
                merged[field_name] = _checked(spec, value, "%s.%s" % (schema_name, field_name))
        if merged:
            stored[schema_name] = merged
        else:
            stored.pop(schema_name, None)
    if stored:
        record["customSchemas"] = stored
    else:
        record.pop("customSchemas", None)


def _checked(spec, value, where):
    if spec["multiValued"]:
        if not isinstance(value, list) or not all(isinstance(item, dict) and "value" in item for item in value):
            raise errors.invalid('Invalid Input: %s is multi-valued (give [{"value": …}])' % where)
        for item in value:
            _check_one(spec["fieldType"], item["value"], where)
        return value
    if isinstance(value, (list, dict)):
        raise errors.invalid("Invalid Input: %s is single-valued" % where)
    _check_one(spec["fieldType"], value, where)
    return value


def _check_one(kind, value, where):
    text = value if isinstance(value, str) else None
    good = {
        "STRING": lambda: text is not None and len(text) <= 500,
        "EMAIL": lambda: text is not None and text.count("@") == 1,
        "PHONE": lambda: text is not None,
        "INT64": lambda: (
            (isinstance(value, int) and not isinstance(value, bool)) or bool(text and _INT.fullmatch(text))
        ),
        "DOUBLE": lambda: isinstance(value, (int, float)) and not isinstance(value, bool) or _is_number(text),
        "BOOL": lambda: isinstance(value, bool),
        "DATE": lambda: bool(text and _DATE.fullmatch(text)),
    }[kind]()
    if not good:
        raise errors.invalid("Invalid Input: %s (%s)" % (where, kind))


def _is_number(text):
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def projected(resource, record, query):
    """Google shows customSchemas only with projection=full, or =custom for the schemas in customFieldMask."""
    resource.pop("customSchemas", None)
    custom = record.get("customSchemas")
    projection = query.get("projection", "basic")
    if not custom or projection == "basic":
        return resource
    if projection == "custom":
        if "customFieldMask" not in query:
            raise errors.invalid("Invalid Input: customFieldMask is required with projection=custom")
        wanted = set(query["customFieldMask"].split(","))
        custom = {name: values for name, values in custom.items() if name in wanted}
    if custom:
        resource["customSchemas"] = custom
    return resource
