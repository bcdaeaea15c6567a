"""Render stored records as the JSON resources Google returns."""

import base64
import hashlib
import json

from .state import TEST_DOMAIN_SUFFIX

EPOCH = "1970-01-01T00:00:00.000Z"
# Stored user fields that render under their own name, after the computed ones.
_USER_COMPUTED = {
    "id",
    "primaryEmail",
    "name",
    "password",
    "isAdmin",
    "suspended",
    "creationTime",
    "aliases",
    "emails",
    "orgUnitPath",
    "lastLoginTime",
    "agreedToTerms",
    "photo",
}


def etag(resource):
    digest = hashlib.sha1(json.dumps(resource, sort_keys=True).encode()).digest()
    return '"%s"' % base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _with_etag(resource):
    resource["etag"] = etag(resource)
    return resource


def user(record, directory):
    name = record["name"]
    local = record["primaryEmail"].split("@")[0]
    aliases = record.get("aliases", [])
    emails = [{"address": record["primaryEmail"], "primary": True}]
    emails += [{"address": alias} for alias in aliases]
    emails += [e for e in record.get("emails", []) if e.get("address") != record["primaryEmail"]]
    resource = {
        "kind": "admin#directory#user",
        "id": record["id"],
        "primaryEmail": record["primaryEmail"],
        "name": {
            "givenName": name["givenName"],
            "familyName": name["familyName"],
            "fullName": "%s %s" % (name["givenName"], name["familyName"]),
        },
        "isAdmin": record.get("isAdmin", False),
        "isDelegatedAdmin": False,
        "lastLoginTime": record.get("lastLoginTime", EPOCH),
        "creationTime": record["creationTime"],
        "agreedToTerms": record.get("agreedToTerms", False),
        "suspended": record.get("suspended", False),
        "archived": False,
        "changePasswordAtNextLogin": False,
        "ipWhitelisted": False,
        "emails": emails,
        "nonEditableAliases": ["%s@%s%s" % (local, directory.primary_domain, TEST_DOMAIN_SUFFIX)],
        "customerId": directory.customer_id,
        "orgUnitPath": record.get("orgUnitPath", "/"),
        "isMailboxSetup": True,
        "isEnrolledIn2Sv": False,
        "isEnforcedIn2Sv": False,
        "includeInGlobalAddressList": True,
    }
    if "displayName" in name:
        resource["name"]["displayName"] = name["displayName"]
    if resource["suspended"]:
        resource["suspensionReason"] = "ADMIN"
    if "photo" in record:  # Google links the thumbnail; its etag changes with the photo
        resource["thumbnailPhotoUrl"] = "https://lh3.googleusercontent.com/a/%s=s96-c" % record["id"]
        resource["thumbnailPhotoEtag"] = '"%s"' % record["photo"]["etag"]
    if aliases:
        resource["aliases"] = list(aliases)
    for field, value in record.items():
        if field not in _USER_COMPUTED:
            resource[field] = value
    return _with_etag(resource)


def group(record, directory):
    local = record["email"].split("@")[0]
    resource = {
        "kind": "admin#directory#group",
        "id": record["id"],
        "email": record["email"],
        "name": record["name"],
        "directMembersCount": str(len(directory.members[record["id"]])),
        "description": record.get("description", ""),
        "adminCreated": True,
        "nonEditableAliases": ["%s@%s%s" % (local, directory.primary_domain, TEST_DOMAIN_SUFFIX)],
    }
    if record.get("aliases"):
        resource["aliases"] = list(record["aliases"])
    return _with_etag(resource)


def member(record, directory):
    resource = {
        "kind": "admin#directory#member",
        "id": record["id"],
        "email": record.get("email"),
        "role": record["role"],
        "type": record["type"],
        "status": "ACTIVE",
    }
    if record["type"] == "USER":
        target = directory.users[record["id"]]
        resource["email"] = target["primaryEmail"]
        if target.get("suspended"):
            resource["status"] = "SUSPENDED"
    elif record["type"] == "GROUP":
        resource["email"] = directory.groups[record["id"]]["email"]
    elif record["type"] == "CUSTOMER":
        del resource["email"]
    if record.get("delivery_settings"):
        resource["delivery_settings"] = record["delivery_settings"]
    return _with_etag(resource)


def orgunit(path, directory):
    unit = directory.orgunits[path]
    parent = path.rsplit("/", 1)[0] or "/"
    resource = {
        "kind": "admin#directory#orgUnit",
        "name": unit["name"],
        "description": unit.get("description", ""),
        "orgUnitPath": path,
        "orgUnitId": unit["orgUnitId"],
        "parentOrgUnitPath": parent,
        "parentOrgUnitId": directory.orgunits[parent]["orgUnitId"],
        "blockInheritance": unit.get("blockInheritance", False),
    }
    return _with_etag(resource)


def alias(owner_id, primary, address, kind="admin#directory#alias"):
    return _with_etag({"kind": kind, "id": owner_id, "primaryEmail": primary, "alias": address})


def schema(record):
    fields = [dict(spec, kind="admin#directory#schema#fieldspec", etag=etag(spec)) for spec in record["fields"]]
    return _with_etag(
        {
            "kind": "admin#directory#schema",
            "schemaId": record["schemaId"],
            "schemaName": record["schemaName"],
            "displayName": record["displayName"],
            "fields": fields,
        }
    )


def domain(name, directory):
    aliases = [
        {
            "kind": "admin#directory#domainAlias",
            "domainAliasName": alias,
            "parentDomainName": name,
            "verified": alias not in directory.unverified,
            "creationTime": "0",
        }
        for alias, parent in sorted(directory.domain_aliases.items())
        if parent == name
    ]
    resource = {
        "kind": "admin#directory#domain",
        "domainName": name,
        "isPrimary": name == directory.primary_domain,
        "verified": name not in directory.unverified,
        "creationTime": "0",
    }
    if aliases:
        resource["domainAliases"] = aliases
    return _with_etag(resource)


def listing(kind, key, items, next_token=None):
    """A list response; like Google, an empty page has no list key at all."""
    resource = {"kind": kind}
    if items:
        resource[key] = items
    if next_token:
        resource["nextPageToken"] = next_token
    resource["etag"] = etag(resource)
    return resource
