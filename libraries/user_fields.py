"""Which user fields differ, and the Directory API body that changes exactly those.

Google replaces an array field (organizations, phones, externalIds) whole, so a
patch starts from the array as read and changes only the entries we manage:
a department typed in Google survives when only the title is mapped, a home
phone survives when work and mobile phones are.
"""
from __future__ import annotations

import ldap.dn

from .config import AttributeMap
from .model import DirectoryUser, GoogleUser
from .plan import FieldChange

MAPPED_FIELDS = ("title", "department", "phone", "mobile", "employee_id")  # read straight from the user's own attributes
PHONE_TYPES = {"phone": "work", "mobile": "mobile"}


def dn_key(dn: str) -> str:
    """A DN in one spelling (as ldap_source writes a manager's), so a manager's DN finds its user."""
    try:
        return ldap.dn.dn2str(ldap.dn.str2dn(dn)).lower()
    except ldap.DECODING_ERROR:
        return dn.lower()


def field_changes(
    user: DirectoryUser, email: str, account: GoogleUser | None, attributes: AttributeMap, org_unit: str | None = None,
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
    pairs += [(name, current.mapped_value(name), getattr(user, name)) for name in MAPPED_FIELDS if getattr(attributes, name)]
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
        body["externalIds"] = others + ([{"type": "organization", "value": new["employee_id"]}] if new["employee_id"] else [])
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


def aliases_to_add(user: DirectoryUser, account: GoogleUser | None, domains: frozenset[str], attributes: AttributeMap) -> list[str]:
    """Directory aliases in the account's domains (aliases included) that Google does not have yet (aliases are added, never removed)."""
    if not attributes.aliases:
        return []
    present = set(account.aliases) if account else set()
    wanted = {alias.strip().lower() for alias in user.aliases if alias.strip().lower().rpartition("@")[2] in domains}
    return sorted(wanted - present - {account.primary_email if account else ""})
