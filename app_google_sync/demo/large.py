"""A directory at a real size, for the console's benchmark and browser tests: ``users`` users with the Google Apps
option in groups of 50, every 100th sharing another's address (skipped: bad data), every 200th locked."""

from __future__ import annotations

from .directory import DemoDirectory

GROUP_SIZE = 50


def uid_of(number: int) -> str:
    return f"user{number:05}"


def is_locked(number: int) -> bool:
    return number % 200 == 7


def seed_large_directory(directory: DemoDirectory, users: int, domain: str = "example.com") -> None:
    uids = [uid_of(number) for number in range(users)]
    for number, uid in enumerate(uids):
        mail = f"{uids[number - 1]}@{domain}" if number % 100 == 50 else None
        directory.add_user(uid, "User", f"Number {number}", mail=mail, locked=is_locked(number))
    directory.add_group("google_apps_plugin", members=tuple(uids))  # one write, not one per user
    for number in range(0, users, GROUP_SIZE):
        directory.add_group(f"team{number // GROUP_SIZE:04}", members=tuple(uids[number : number + GROUP_SIZE]))
