"""The emulated Workspace account: users, groups, members, org units and the address book.

Records are plain dicts so the whole account saves to JSON as it is. Every address a user
or group answers to (primary or alias) is in one index, so duplicates are caught across
users, groups and aliases as Google does. Callers hold the emulator's lock.
"""

import json
import os
import random
import secrets
import string
import tempfile
import time

from . import errors

TEST_DOMAIN_SUFFIX = ".test-google-a.com"


def now_rfc3339():
    """Google's timestamp format: UTC, milliseconds, trailing Z."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (int(now * 1000) % 1000)


class Directory:
    """One customer account with a primary domain."""

    def __init__(self, domain, customer_id=None):
        self.domains = [domain.lower()]  # the primary domain first, then secondary domains
        self.domain_aliases = {}  # alias domain -> the domain it is an alias of
        self.unverified = set()  # domains and domain aliases added but not verified: no address may be made there yet
        self.customer_id = customer_id or "C0" + "".join(
            random.choice(string.ascii_lowercase + string.digits) for _ in range(7)
        )
        self.users = {}  # id -> user record
        self.groups = {}  # id -> group record
        self.members = {}  # group id -> {member id -> member record}, in insertion order
        self.schemas = {}  # schema name -> custom user schema record
        self.skus = {}  # "product/sku" -> {"productName", "skuName", "seats", "assigned": [user ids]}
        self.auto_license = None  # "product/sku" every new user gets (Google's automatic licensing), or None
        self.orgunits = {
            "/": {
                "orgUnitId": self.new_orgunit_id(),
                "name": domain.lower(),
                "description": "",
                "blockInheritance": False,
            }
        }
        self.addresses = {}  # lower-cased address -> ("user" | "group", id)
        self.external = {}  # external member address -> stable member id
        self.security = {}  # user id -> {"tokens": [...], "asps": [...], "signOuts": n} (api_security)
        self.transfers = {}  # data transfer id -> record (api_datatransfer)
        self.drive_files = {}  # user id -> names of the Drive files it owns ("shared:" names are shared)
        self.transfer_failures = 0  # the next transfers inserted that end "failed" (tests set it)
        self.changed = False

    @property
    def primary_domain(self):
        return self.domains[0]

    @property
    def all_domain_names(self):
        """Every domain and domain alias, verified or not."""
        return self.domains + list(self.domain_aliases)

    @property
    def verified_domains(self):
        """Where a primary address may be: the domains verified (Google lets no user or group be made in another)."""
        return [name for name in self.domains if name not in self.unverified]

    @property
    def alias_domains(self):
        """Where an alias address may be: every verified domain, domain aliases included."""
        return [name for name in self.all_domain_names if name not in self.unverified]

    def add_domain(self, domain, alias_of=None, verified=True):
        domain = domain.lower()
        if not verified:
            self.unverified.add(domain)
        if domain in self.all_domain_names:
            return
        if alias_of is None:
            self.domains.append(domain)
        elif alias_of.lower() in self.domains:
            self.domain_aliases[domain] = alias_of.lower()
        else:
            raise ValueError("%s is not a domain of the account" % alias_of)
        self.changed = True

    # ids -------------------------------------------------------------------------------
    def new_numeric_id(self):
        """21 digits, like Google's user ids (also used for external members)."""
        while True:
            value = "1" + "".join(random.choice(string.digits) for _ in range(20))
            if value not in self.users:
                return value

    def new_group_id(self):
        while True:
            value = "0" + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(14))
            if value not in self.groups:
                return value

    @staticmethod
    def new_orgunit_id():
        return "id:03ph8a2z" + secrets.token_hex(3)

    # customer --------------------------------------------------------------------------
    def check_customer(self, value):
        if value not in ("my_customer", self.customer_id):
            raise errors.forbidden()

    def check_domain(self, value):
        if value.lower() not in self.domains:
            raise errors.forbidden()

    # address book ----------------------------------------------------------------------
    def claim(self, address, kind, ident):
        """Reserve `address` for a user or group; 409 if anything else uses it."""
        owner = self.addresses.get(address)
        if owner is not None and owner != (kind, ident):
            raise errors.duplicate()
        self.addresses[address] = (kind, ident)

    def release(self, address):
        self.addresses.pop(address, None)

    def _find(self, key, kind, table):
        if key in table:
            return table[key]
        owner = self.addresses.get(key.lower())
        if owner is not None and owner[0] == kind:
            return table[owner[1]]
        return None

    def find_user(self, key):
        return self._find(key, "user", self.users)

    def find_group(self, key):
        return self._find(key, "group", self.groups)

    def user(self, key):
        record = self.find_user(key)
        if record is None:
            raise errors.not_found("userKey")
        return record

    def group(self, key):
        record = self.find_group(key)
        if record is None:
            raise errors.not_found("groupKey")
        return record

    def in_our_domains(self, address):
        return address.rsplit("@", 1)[-1].lower() in self.domains

    # users and groups ------------------------------------------------------------------
    def add_user(self, record):
        self.claim(record["primaryEmail"], "user", record["id"])
        self.users[record["id"]] = record
        self.changed = True

    def remove_user(self, record):
        for address in [record["primaryEmail"], *record.get("aliases", [])]:
            self.release(address)
        del self.users[record["id"]]
        for members in self.members.values():
            members.pop(record["id"], None)
        self.changed = True

    def add_group(self, record):
        self.claim(record["email"], "group", record["id"])
        self.groups[record["id"]] = record
        self.members[record["id"]] = {}
        self.changed = True

    def remove_group(self, record):
        for address in [record["email"], *record.get("aliases", [])]:
            self.release(address)
        del self.groups[record["id"]]
        del self.members[record["id"]]
        for members in self.members.values():
            members.pop(record["id"], None)
        self.changed = True

    # org units -------------------------------------------------------------------------
    def orgunit_path(self, key):
        """Resolve an org unit path ('/Sales', 'Sales') or id ('id:…') to its path, or None."""
        if key.startswith("id:"):
            return next((path for path, unit in self.orgunits.items() if unit["orgUnitId"] == key), None)
        path = "/" + key.strip("/")
        return path if path in self.orgunits else None

    # persistence -----------------------------------------------------------------------
    def to_dict(self):
        return {
            "domains": self.domains,
            "domainAliases": self.domain_aliases,
            "customerId": self.customer_id,
            "users": self.users,
            "groups": self.groups,
            "members": self.members,
            "orgunits": self.orgunits,
            "external": self.external,
            "schemas": self.schemas,
            "skus": self.skus,
            "unverified": sorted(self.unverified),
            "autoLicense": self.auto_license,
            "security": self.security,
            "transfers": self.transfers,
            "driveFiles": self.drive_files,
        }

    @classmethod
    def from_dict(cls, data):
        directory = cls(data["domains"][0], data["customerId"])
        directory.domains = data["domains"]
        directory.domain_aliases = data.get("domainAliases", {})
        directory.unverified = set(data.get("unverified", []))
        directory.users = data["users"]
        directory.groups = data["groups"]
        directory.members = data["members"]
        directory.orgunits = data["orgunits"]
        directory.external = data.get("external", {})
        directory.schemas = data.get("schemas", {})
        directory.skus = data.get("skus", {})
        directory.auto_license = data.get("autoLicense")
        directory.security = data.get("security", {})
        directory.transfers = data.get("transfers", {})
        directory.drive_files = data.get("driveFiles", {})
        for ident, user in directory.users.items():
            for address in [user["primaryEmail"], *user.get("aliases", [])]:
                directory.addresses[address] = ("user", ident)
        for ident, group in directory.groups.items():
            for address in [group["email"], *group.get("aliases", [])]:
                directory.addresses[address] = ("group", ident)
        return directory


def save_json(path, data):
    """Write atomically, readable only by the owner (the file holds password hashes)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".emulator-state-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
