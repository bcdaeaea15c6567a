"""Which user fields differ, and the Directory API body that changes exactly those.

Google replaces an array field (organizations, phones, externalIds) whole, so a
patch starts from the array as read and changes only the entries we manage:
a department typed in Google survives when only the title is mapped, a home
phone survives when work and mobile phones are.
"""

from __future__ import annotations

import datetime
import json
import math
import re

import ldap.dn

from ..core.model import CustomField, DirectoryUser, FieldChange, GoogleUser
from ..settings.config import AttributeMap

MAPPED_FIELDS = (
    "title",
    "department",
    "phone",
    "mobile",
    "employee_id",
)  # read straight from the user's own attributes
PHONE_TYPES = {"phone": "work", "mobile": "mobile"}


def dn_key(dn: str) -> str:
    """A DN in one spelling (as ldap_source writes a manager's), so a manager's DN finds its user."""
    try:
        return ldap.dn.dn2str(ldap.dn.str2dn(dn)).lower()
    except ldap.DECODING_ERROR:
        return dn.lower()


def field_changes(
    user: DirectoryUser,
    email: str,
    account: GoogleUser | None,
    attributes: AttributeMap,
    org_unit: str | None = None,
    manager: str | None = None,
) -> tuple[FieldChange, ...]:
    """Old → new for the name, the address, every mapped field, the org unit and the manager's address when
    managed (None: not managed, or not known this run); all 'new' without an account."""
    current = account or GoogleUser(id="", primary_email="")
    pairs = [
        ("primaryEmail", current.primary_email, email),
        ("givenName", current.given_name, user.given_name),
        ("familyName", current.family_name, user.family_name),
    ]
    pairs += [
        (name, current.mapped_value(name), getattr(user, name)) for name in MAPPED_FIELDS if getattr(attributes, name)
    ]
    if org_unit is not None:
        pairs.append(("orgUnitPath", current.org_unit_path if account else "/", org_unit))
    if manager is not None and attributes.manager:
        pairs.append(("manager", current.mapped_value("manager"), manager))
    return tuple(FieldChange(name, old, new) for name, old, new in pairs if old != new)


def patch_body(changes: tuple[FieldChange, ...], account: GoogleUser | None) -> dict:
    """The users.patch (or insert) body for these changes, merged into the arrays Google holds."""
    new = {change.field: change.new for change in changes}
    body: dict = {}
    for key in ("primaryEmail", "orgUnitPath"):
        if key in new:
            body[key] = new[key]
    name = {key: new[key] for key in ("givenName", "familyName") if key in new}
    if name:
        body["name"] = name
    current = account or GoogleUser(id="", primary_email="")
    if new.keys() & {"title", "department"}:
        body["organizations"] = _organizations(current, new)
    if new.keys() & PHONE_TYPES.keys():
        body["phones"] = _phones(current, new)
    if "manager" in new:
        others = [relation for relation in current.relations if relation.get("type") != "manager"]
        body["relations"] = others + ([{"type": "manager", "value": new["manager"]}] if new["manager"] else [])
    if "employee_id" in new:
        others = [entry for entry in current.external_ids if entry.get("type") != "organization"]
        body["externalIds"] = others + (
            [{"type": "organization", "value": new["employee_id"]}] if new["employee_id"] else []
        )
    return body


def _organizations(current: GoogleUser, new: dict) -> list[dict]:
    primary = dict(current.primary_organization) or {"primary": True}
    for key in ("title", "department"):
        if key in new:
            primary.pop(key, None)
            if new[key]:
                primary[key] = new[key]
    others = [org for org in current.organizations if org is not current.primary_organization]
    meaningful = set(primary) - {"primary", "customType", "type"}
    return ([primary] if meaningful else []) + others


def _phones(current: GoogleUser, new: dict) -> list[dict]:
    changed_types = {PHONE_TYPES[field] for field in new if field in PHONE_TYPES}
    kept = [phone for phone in current.phones if phone.get("type") not in changed_types]
    return kept + [{"type": PHONE_TYPES[field], "value": new[field]} for field in PHONE_TYPES if new.get(field)]


def aliases_to_add(
    user: DirectoryUser, account: GoogleUser | None, domains: frozenset[str], attributes: AttributeMap
) -> list[str]:
    """Directory aliases in the account's domains (aliases included) that Google does not have yet (aliases are added, never removed)."""
    if not attributes.aliases:
        return []
    present = set(account.aliases) if account else set()
    wanted = {alias.strip().lower() for alias in user.aliases if alias.strip().lower().rpartition("@")[2] in domains}
    return sorted(wanted - present - {account.primary_email if account else ""})


# -- custom schema fields ([custom_attributes]) ------------------------------------------------------

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_GENERALIZED_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})\d*(?:[.,]\d+)?(?:Z|[+-]\d{4})?")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def custom_text(spec: CustomField, value) -> str:
    """One value in one spelling, as typed for ``spec``: the form compared and shown; ValueError when it is not one."""
    text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    if spec.kind == "INT64":
        number = int(text)
        if not -(2**63) <= number < 2**63:
            raise ValueError
        return str(number)
    if spec.kind == "DOUBLE":
        real = float(text)
        if not math.isfinite(real):
            raise ValueError
        return repr(real).removesuffix(".0")
    if spec.kind == "BOOL":
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError
        return "true" if text.lower() in _TRUE else "false"
    if spec.kind == "DATE":
        match = _GENERALIZED_TIME.fullmatch(text)  # the directory's GeneralizedTime: its date part
        return datetime.date.fromisoformat("-".join(match.groups()) if match else text).isoformat()
    if spec.kind == "EMAIL" and not _EMAIL.fullmatch(text):
        raise ValueError
    if not text:
        raise ValueError
    return text


_KINDS = {
    "INT64": "a whole number",
    "DOUBLE": "a decimal number",
    "BOOL": "TRUE or FALSE",
    "DATE": "a date (yyyy-mm-dd)",
    "EMAIL": "an email address",
    "STRING": "text",
    "PHONE": "a phone number",
}


def custom_changes(
    user: DirectoryUser, account: GoogleUser | None, fields: dict[str, CustomField]
) -> tuple[tuple[FieldChange, ...], list[str]]:
    """Old → new for each mapped custom field, and the problems of the values that cannot be sent: such a field is
    left as Google has it. A single value is shown as it is, a multi-valued field's as a JSON list."""
    changes, problems = [], []
    for key, values in user.custom:
        spec = fields.get(key)
        if spec is None:
            continue
        try:
            new = _wanted_texts(spec, values)
        except ValueError as error:
            problems.append(
                f"{spec.key} not synchronized: {error}; fix the directory value (the field is left as Google has it)"
            )
            continue
        old = _current_texts(spec, account)
        if old != new:
            changes.append(FieldChange(spec.key, _shown(spec, old), _shown(spec, new)))
    return tuple(changes), problems


def _shown(spec: CustomField, texts: list[str]) -> str:
    if spec.multi:
        return json.dumps(texts, ensure_ascii=False) if texts else ""
    return texts[0] if texts else ""


def _wanted_texts(spec: CustomField, values: tuple[str, ...]) -> list[str]:
    given = [value for value in values if value.strip()]
    if len(given) > 1 and not spec.multi:
        raise ValueError(f"{len(given)} values, but the field takes one")
    texts = []
    for value in given:
        try:
            texts.append(custom_text(spec, value))
        except ValueError:
            raise ValueError(f"{value!r} is not {_KINDS.get(spec.kind, spec.kind)}") from None
    return sorted(set(texts)) if spec.multi else texts


def _current_texts(spec: CustomField, account: GoogleUser | None) -> list[str]:
    value = (account.custom_schemas.get(spec.schema) or {}).get(spec.name) if account else None
    raw = (
        [item.get("value") for item in value if isinstance(item, dict)]
        if isinstance(value, list)
        else ([] if value in (None, "") else [value])
    )
    texts = []
    for item in raw:
        try:
            texts.append(custom_text(spec, item))
        except ValueError:
            texts.append(str(item))  # typed in Google in a form we would not send: shown as it is, replaced
    return sorted(set(texts)) if spec.multi else texts


def _typed(spec: CustomField, text: str):
    if spec.kind == "BOOL":
        return text == "true"
    if spec.kind == "DOUBLE":
        return float(text)
    return text  # Google takes INT64 (like every int64 of its APIs) as a JSON string


def custom_body(changes: tuple[FieldChange, ...], account: GoogleUser | None, fields: dict[str, CustomField]) -> dict:
    """customSchemas for the changed fields, each schema starting from what Google holds (other fields kept);
    a field emptied in the directory is sent as null, which removes it."""
    body: dict[str, dict] = {}
    specs = {spec.key: spec for spec in fields.values()}
    for change in changes:
        spec = specs.get(change.field)
        if spec is None:
            continue
        current = dict((account.custom_schemas.get(spec.schema) or {}) if account else {})
        schema = body.setdefault(spec.schema, current)
        texts = (json.loads(change.new) if spec.multi else [change.new]) if change.new else []
        if not texts:
            schema[spec.name] = None
        elif spec.multi:
            schema[spec.name] = [{"value": _typed(spec, text)} for text in texts]
        else:
            schema[spec.name] = _typed(spec, texts[0])
    return {"customSchemas": body} if body else {}
