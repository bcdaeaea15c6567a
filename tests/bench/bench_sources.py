"""Benchmark: what deciding the scope by [sources] costs the directory reads, against the per-user switch.

    .venv/bin/python tests/bench/bench_sources.py [--users 2000] [--teams 100] [--repeat 20]

A throwaway slapd: users spread over OUs (one per site), each in one team group, teams nested in departments.
Times a whole read (read_state, what every full run does) and a one-user read (read_user, what every push does)
with the switch (ClearOS' default), with subtrees, and with nested group sources (a push then reads every group's
members). Prints median milliseconds; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import ldap

from app_google_sync.demo.directory import DemoDirectory
from app_google_sync.libraries.directory.ldap_source import LdapSource
from app_google_sync.libraries.settings.config import SourceSettings
from app_google_sync.libraries.settings.config_schema import Subtree

SITES = ("Paris", "Berlin", "Madrid", "Rome")


def build(directory: DemoDirectory, users: int, teams: int) -> None:
    directory.add_group("google_apps_plugin")
    for site in SITES:
        directory.add_ou(f"Staff/{site}")
    members: dict[int, list[str]] = {team: [] for team in range(teams)}
    for index in range(users):
        uid = f"user{index:05d}"
        directory.add_user(uid, "Given", f"Family{index}", ou=f"Staff/{SITES[index % len(SITES)]}")
        members[index % teams].append(uid)
    switch = directory.group_dn("google_apps_plugin")
    directory.admin().modify_s(
        switch, [(ldap.MOD_ADD, "memberUid", [f"user{index:05d}".encode() for index in range(users)])]
    )
    for team, uids in members.items():
        directory.add_group(f"team{team:03d}", members=uids)
    for department in range(max(1, teams // 10)):
        nested = [
            directory.group_dn(f"team{team:03d}").encode()
            for team in range(department * 10, min(teams, department * 10 + 10))
        ]
        directory.add_group_of_names(f"dept{department:02d}", [])
        directory.admin().modify_s(directory.group_dn(f"dept{department:02d}"), [(ldap.MOD_REPLACE, "member", nested)])


def median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with DemoDirectory() as directory:
        build(directory, args.users, args.teams)
        departments = tuple(f"dept{index:02d}" for index in range(max(1, args.teams // 10)))
        cases = {
            "switch (ClearOS default)": SourceSettings(),
            "subtrees": SourceSettings(subtrees=tuple(Subtree(directory.ou_dn(f"Staff/{site}")) for site in SITES)),
            "nested group sources": SourceSettings(member_groups=departments),
        }
        print(
            f"{args.users} users in {len(SITES)} OUs, {args.teams} teams nested in {len(departments)} departments; median of {args.repeat}"
        )
        for label, sources in cases.items():
            with LdapSource(directory.settings(), sources=sources) as source:
                whole = median_ms(source.read_state, max(3, args.repeat // 5))
                in_scope = sum(user.in_scope for user in source.read_state().users)
                one = median_ms(lambda: source.read_user("user00042"), args.repeat)
            print(f"  {label:26s} read_state {whole:8.1f} ms   read_user {one:6.1f} ms   in scope {in_scope}")


if __name__ == "__main__":
    main()
