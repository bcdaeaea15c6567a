"""Eventual consistency: what the API has just created is not yet usable everywhere.

For `delay` seconds (on the emulator's clock) after users.insert, groups.insert, a rename or
a new alias, Google's other services have not heard of it:
- members.insert naming a new user or group (or a new address of an old one) as the member
  answers 404 "Resource Not Found: memberKey";
- members.* on a new group (or through its new address) answer 404 "Resource Not Found: groupKey";
- users.patch/update/delete/makeAdmin and users.aliases.insert on a new user answer
  412 conditionNotMet "User creation is not complete.".
Reads (users.get, groups.get, lists) see new records at once. Seeded records are settled.
A delay applies to what is created after it is set. Callers hold the emulator's lock.
"""

import time

from . import errors


class Propagation:
    def __init__(self, clock=time.monotonic, delay=0.0):
        self.clock = clock
        self.delay = delay
        self._settles = {}  # ("user" | "group", id) or ("address", address) -> clock time it settles
        self._prune_at = 64

    # what the handlers report ------------------------------------------------------------
    def created(self, kind, ident):
        self._note((kind, ident))

    def new_address(self, address):
        self._note(("address", address.lower()))

    def _note(self, key):
        if self.delay <= 0:
            return
        now = self.clock()
        if len(self._settles) >= self._prune_at:
            self._settles = {k: t for k, t in self._settles.items() if t > now}
            self._prune_at = max(64, 2 * len(self._settles))
        self._settles[key] = now + self.delay

    # what the handlers check ---------------------------------------------------------------
    def check_member(self, key, kind, ident):
        """members.insert of the user or group `ident`, named by `key`."""
        if self._unsettled((kind.lower(), ident), key):
            raise errors.not_found("memberKey")

    def check_group(self, key, group):
        """A members.* call on `group`, named by `key`."""
        if self._unsettled(("group", group["id"]), key):
            raise errors.not_found("groupKey")

    def check_user(self, user):
        """A write to `user` beyond its creation."""
        if self._unsettled(("user", user["id"])):
            raise errors.creation_not_complete()

    def _unsettled(self, record_key, address=None):
        if not self._settles:
            return False
        now = self.clock()
        keys = [record_key] if address is None else [record_key, ("address", address.lower())]
        return any(self._settles.get(k, now) > now for k in keys)
