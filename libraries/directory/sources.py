"""Who goes to Google: the ``[sources]`` (subtrees, groups, the per-user switch), their exclusions and the pilot,
turned into one ``UserScope`` that answers for any user entry. Pure: the LDAP source reads the entries and hands
them here.

A source that names a subtree or a group the directory lacks is an error (``SourceError``), never "nobody is
in scope": that would read as every user leaving, and suspend them.
"""

from __future__ import annotations

from dataclasses import dataclass

import ldap.dn

from ..core.errors import SourceError
from ..settings.config import SourceSettings, dn_key, is_under, parent_key, pilot_source_of
from ..settings.config_schema import Subtree


@dataclass(frozen=True)
class Members:
    """Who belongs to a group as stored: memberUid values and member DNs (in one spelling)."""

    uids: frozenset[str] = frozenset()
    dns: frozenset[str] = frozenset()

    def include(self, uid: str, dn: str) -> bool:
        return uid in self.uids or dn_key(dn) in self.dns

    def resolve(self, uid_by_dn: dict[str, str]) -> frozenset[str]:
        """The uids of the members, given the uid of each user DN read."""
        return self.uids | {uid_by_dn[dn] for dn in self.dns if dn in uid_by_dn}

    def __or__(self, other: Members) -> Members:
        return Members(self.uids | other.uids, self.dns | other.dns)


EVERYONE = None  # the switch with enabled_group empty: every user under users_dn


@dataclass(frozen=True)
class GroupGraph:
    """The directory's groups by lower-cased name: their DN (one spelling) and direct members."""

    groups: dict[str, tuple[str, Members]]

    def members_of(self, names: tuple[str, ...], key: str) -> Members:
        """Everyone in these groups, nested groups followed (a cycle ends where it started); SourceError for a missing one."""
        missing = [name for name in names if name.lower() not in self.groups]
        if missing:
            raise SourceError(
                f"[sources] {key} names {', '.join(missing)}, which no group under [ldap] groups_dn is called: "
                "correct the name (the console's Sources page lists the groups), or remove it"
            )
        by_dn = {dn: name for name, (dn, _) in self.groups.items()}
        found, seen, stack = Members(), set(), [name.lower() for name in names]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            members = self.groups[name][1]
            found |= members
            stack.extend(by_dn[dn] for dn in members.dns if dn in by_dn)
        return found

    def nested_names(self, names: tuple[str, ...]) -> frozenset[str]:
        """These groups and every group nested in them, lower-cased (for method = source_groups)."""
        by_dn = {dn: name for name, (dn, _) in self.groups.items()}
        seen, stack = set(), [name.lower() for name in names if name.lower() in self.groups]
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(by_dn[dn] for dn in self.groups[name][1].dns if dn in by_dn)
        return frozenset(seen)


@dataclass(frozen=True)
class UserScope:
    """Answers, for one user entry, whether a source includes it, whether the pilot covers it, and where it goes."""

    sources: SourceSettings
    switch: Members | None = EVERYONE  # members of enabled_group; EVERYONE when it is empty
    from_groups: Members = Members()
    excluded: Members = Members()
    pilot_members: Members | None = None  # the pilot's group source, when it names a group

    def includes(self, uid: str, dn: str) -> bool:
        if self.excluded.include(uid, dn):
            return False
        if self.sources.uses_switch and (self.switch is EVERYONE or self.switch.include(uid, dn)):
            return True
        return self.from_groups.include(uid, dn) or self.subtree_of(dn) is not None

    def in_pilot(self, uid: str, dn: str) -> bool:
        sources = self.sources
        if not sources.pilot:
            return True
        if uid in sources.pilot_users:
            return True
        chosen = pilot_source_of(sources) if sources.pilot_source else None
        if isinstance(chosen, Subtree):
            return _inside(dn, chosen)
        return self.pilot_members is not None and self.pilot_members.include(uid, dn)

    def subtree_of(self, dn: str) -> Subtree | None:
        """The deepest source subtree holding the entry (its placement wins), or None."""
        holding = [subtree for subtree in self.sources.subtrees if _inside(dn, subtree)]
        return max(holding, key=lambda subtree: len(dn_key(subtree.dn)), default=None)

    def placement(self, dn: str, below_dn: bool) -> str:
        """The Google org unit a source subtree names for the entry ("" when none does); with ``below_dn``
        ([sync] org_units = dn) the OUs between the subtree and the entry are appended."""
        subtree = self.subtree_of(dn)
        if subtree is None or not subtree.org_unit:
            return ""
        below = ous_between(dn, subtree.dn) if below_dn else ""
        return "/".join(part for part in (subtree.org_unit.rstrip("/"), below) if part) or "/"


def build_scope(sources: SourceSettings, graph: GroupGraph, switch: Members | None) -> UserScope:
    """The scope of ``sources`` over these groups; SourceError names a group source the directory lacks."""
    chosen = pilot_source_of(sources) if sources.pilot_source else None
    return UserScope(
        sources=sources,
        switch=switch,
        from_groups=graph.members_of(sources.member_groups, "member_groups") if sources.member_groups else Members(),
        excluded=graph.members_of(sources.exclusion_groups, "exclusion_groups")
        if sources.exclusion_groups
        else Members(),
        pilot_members=graph.members_of((chosen,), "pilot_source") if isinstance(chosen, str) else None,
    )


def ous_between(dn: str, top: str) -> str:
    """``cn=Ann,ou=EMEA,ou=Sales,<top>`` → ``Sales/EMEA``: the ou= RDNs below ``top``."""
    below = ldap.dn.str2dn(dn)[1 : -len(ldap.dn.str2dn(top)) or None]
    return "/".join(value for rdn in reversed(below) for attribute, value, _ in rdn if attribute.lower() == "ou")


def _inside(dn: str, subtree: Subtree) -> bool:
    if subtree.sub_ous:
        return is_under(dn, subtree.dn) and dn_key(dn) != dn_key(subtree.dn)
    return parent_key(dn) == dn_key(subtree.dn)
