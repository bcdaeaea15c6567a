"""What the Workspace account holds, set and read by tests and the demo without going through the API
(no quota, not recorded). A part of ``Emulator``.
"""

import base64
import os

from . import (
    api_groups,
    api_members,
    api_orgunits,
    api_schemas,
    api_security,
    api_settings,
    api_users,
    errors,
    password_store,
    resources,
    routing,
)


class Seeding:
    def _create_admin(self, password):
        """The super administrator a service account impersonates (terms already accepted)."""
        admin = self.add_user(
            self.admin_email, "Super", "Admin", password=password or os.urandom(18).hex(), is_admin=True
        )
        with self.lock:
            self.directory.users[admin["id"]]["agreedToTerms"] = True
            self.directory.changed = True
            self._save()

    # seeding and inspection (no quota, not recorded) ---------------------------------------------
    def add_domain(self, domain, alias_of=None, verified=True):
        """A secondary domain of the account, or (``alias_of`` its parent) a domain alias: users and groups
        cannot have their primary address in an alias domain, but aliases can be added there. Unverified
        (``verified=False``), it is listed by domains.list with verified false and no address can be made in it."""
        with self.lock:
            self.directory.add_domain(domain, alias_of, verified)
            self._save()

    def add_sku(self, product, sku, seats, name=None):
        """A licence SKU of the account with ``seats`` licences (the Enterprise License Manager's view)."""
        with self.lock:
            self.directory.skus["%s/%s" % (product, sku)] = {
                "productName": product,
                "skuName": name or sku,
                "seats": seats,
                "assigned": [],
            }
            self.directory.changed = True
            self._save()

    def auto_license(self, product, sku):
        """Google's automatic licensing: every user created from now on gets this SKU (while seats remain)."""
        with self.lock:
            self.directory.auto_license = "%s/%s" % (product, sku)
            self._save()

    def licensed(self, product, sku):
        """Primary addresses of the users holding a licence of the SKU, sorted."""
        with self.lock:
            record = self.directory.skus["%s/%s" % (product, sku)]
            return sorted(self.directory.users[user_id]["primaryEmail"] for user_id in record["assigned"])

    def add_schema(self, name, fields):
        """A custom user schema: ``fields`` is [(fieldName, fieldType, multiValued)]; returns its resource."""
        body = {
            "schemaName": name,
            "fields": [{"fieldName": field, "fieldType": kind, "multiValued": multi} for field, kind, multi in fields],
        }
        with self.lock:
            resource = self._seed(api_schemas.insert_schema, body, params={"customerId": "my_customer"})
            self._save()
        return resource

    def add_user(
        self,
        primary_email,
        given_name,
        family_name,
        password=None,
        suspended=False,
        is_admin=False,
        hash_function=None,
        **fields_,
    ):
        """Create a user as users.insert would (same rules); returns its resource."""
        body = dict(
            fields_,
            primaryEmail=primary_email,
            name={"givenName": given_name, "familyName": family_name},
            password=password if password is not None else os.urandom(12).hex(),
            suspended=suspended,
        )
        if hash_function:
            body["hashFunction"] = hash_function
        with self.lock:
            resource = self._seed(api_users.insert_user, body)
            if is_admin:
                self.directory.users[resource["id"]]["isAdmin"] = True
                resource = resources.user(self.directory.users[resource["id"]], self.directory)
            self._save()
        return resource

    # account security and data transfers (api_security, api_datatransfer) -------------------------

    def add_org_unit(self, path):
        """An org unit (its parent must exist), as orgunits.insert makes it."""
        parent, _, name = path.rstrip("/").rpartition("/")
        with self.lock:
            self._seed(
                api_orgunits.insert_orgunit,
                {"name": name, "parentOrgUnitPath": parent or "/"},
                {"customerId": "my_customer"},
            )
            self._save()

    def add_token(self, email, client_id, display_text, scopes=()):
        """An app the user connected with OAuth (what tokens.list shows)."""
        with self.lock:
            api_security.add_token(self.directory, self.directory.user(email), client_id, display_text, scopes)
            self._save()

    def add_app_password(self, email, name):
        with self.lock:
            code = api_security.add_asp(self.directory, self.directory.user(email), name)
            self._save()
        return code

    def tokens(self, email):
        """The client ids of the user's tokens."""
        with self.lock:
            return [
                record["clientId"]
                for record in api_security.security(self.directory, self.directory.user(email))["tokens"]
            ]

    def app_passwords(self, email):
        with self.lock:
            return [
                record["name"] for record in api_security.security(self.directory, self.directory.user(email))["asps"]
            ]

    def sign_outs(self, email):
        """How many times the user was signed out (users.signOut)."""
        with self.lock:
            return api_security.security(self.directory, self.directory.user(email))["signOuts"]

    def add_drive_files(self, email, *names):
        """Drive files the user owns; a name starting with "shared:" is shared with someone."""
        with self.lock:
            self.directory.drive_files.setdefault(self.directory.user(email)["id"], []).extend(names)
            self.directory.changed = True
            self._save()

    def drive_files(self, email):
        with self.lock:
            return list(self.directory.drive_files.get(self.directory.user(email)["id"], []))

    def data_transfers(self):
        """Every data transfer inserted, as stored (ids, applications, status)."""
        with self.lock:
            return [dict(record) for record in self.directory.transfers.values()]

    def fail_transfers(self, count):
        """The next ``count`` transfers inserted end "failed" instead of "completed"."""
        with self.lock:
            self.directory.transfer_failures = count

    def add_group(self, email, name=None, description=""):
        body = {"email": email, "description": description}
        if name is not None:
            body["name"] = name
        with self.lock:
            resource = self._seed(api_groups.insert_group, body)
            self._save()
        return resource

    def add_member(self, group_email, member_email, role="MEMBER"):
        with self.lock:
            resource = self._seed(
                api_members.insert_member, {"email": member_email, "role": role}, {"groupKey": group_email}
            )
            self._save()
        return resource

    def users(self):
        with self.lock:
            records = sorted(self.directory.users.values(), key=lambda u: u["primaryEmail"])
            return [resources.user(u, self.directory) for u in records]

    def photo(self, key):
        """(mimeType, bytes) of a user's photo, or None."""
        with self.lock:
            record = self.directory.find_user(key)
            photo = record.get("photo") if record else None
            return (photo["mimeType"], base64.urlsafe_b64decode(photo["photoData"])) if photo else None

    def get_user(self, key):
        with self.lock:
            record = self.directory.find_user(key)
            return resources.user(record, self.directory) if record else None

    def groups(self):
        with self.lock:
            records = sorted(self.directory.groups.values(), key=lambda g: g["email"])
            return [resources.group(g, self.directory) for g in records]

    def get_group(self, key):
        with self.lock:
            record = self.directory.find_group(key)
            return resources.group(record, self.directory) if record else None

    def members(self, group_email):
        """Member addresses of a group (the customer id for a whole-customer member)."""
        with self.lock:
            group = self.directory.group(group_email)
            return [
                resources.member(m, self.directory).get("email", m["id"])
                for m in self.directory.members[group["id"]].values()
            ]

    def group_settings(self, email):
        """The Groups Settings resource of a group (as groupssettings groups.get answers), or None."""
        with self.lock:
            try:
                return api_settings.group_settings(self.directory, email)
            except errors.ApiError:
                return None

    def member_roles(self, group_email):
        with self.lock:
            group = self.directory.group(group_email)
            return {
                resources.member(m, self.directory).get("email", m["id"]): m["role"]
                for m in self.directory.members[group["id"]].values()
            }

    def check_password(self, email, candidate):
        """Test helper: does the stored password (cleartext, MD5, SHA-1 or crypt) match?

        False for an unknown user. Cleartext passwords are kept salted and hashed.
        """
        with self.lock:
            record = self.directory.find_user(email)
        return record is not None and password_store.matches(record["password"], candidate)

    def stored_password(self, email):
        """(hashFunction or None for cleartext, stored value), or None for an unknown user.

        The value is the digest or crypt string as received, or the emulator's own salted
        hash of a cleartext password.
        """
        with self.lock:
            record = self.directory.find_user(email)
        return None if record is None else (record["password"]["hashFunction"], record["password"]["value"])

    # persistence -------------------------------------------------------------------------------
    def _seed(self, handler, body, params=None):
        status, resource = handler(routing.Request(self.directory, "POST", params or {}, {}, body))
        return resource
