"""`google-sync demo`: the whole job on a throwaway directory and the local Google emulator.

It runs the very commands an administrator would (test, sync, test, status)
against a seeded ClearOS-like slapd and a Directory API emulator, then shows
what Google holds, removes one user's Google Apps switch and syncs again to
show suspension (never deletion).
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable

from .environment import ADMIN_EMAIL, DemoEnvironment

# The command line's main(argv) -> exit code, handed in by the command line itself (no import back to it).
Command = Callable[[list[str]], int]


def heading(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}")


def run(command: Command, env: DemoEnvironment, *args: str) -> int:
    print(f"$ google-sync --config {env.config_path} {shlex.join(args)}")
    code = command(["--config", str(env.config_path), *args])
    print(f"(exit code {code})")
    return code


def show_google(env: DemoEnvironment) -> None:
    for user in sorted(env.emulator.users(), key=lambda u: u["primaryEmail"]):
        state = "suspended" if user.get("suspended") else "active"
        role = " (super admin)" if user.get("isAdmin") else ""
        print(f"  {user['primaryEmail']:<28} {user['name']['fullName']:<24} {state}{role}")
    for group in sorted(env.emulator.groups(), key=lambda g: g["email"]):
        members = ", ".join(sorted(env.emulator.members(group["email"])))
        print(f"  group {group['email']:<22} {members}")


def tour(command: Command, keep_running: bool = False, console: bool = False, port: int = 8000) -> int:
    """The tour; ``command`` runs one ``google-sync`` command line. Whatever ends it (SIGTERM included,
    which the command line turns into SystemExit) stops slapd and the emulator and removes the
    temporary directory with its key and configuration."""
    with DemoEnvironment() as env:
        # One account that already exists in Google, as in most real domains: it is adopted, not duplicated.
        env.emulator.add_user("carol@example.com", "Carol", "Jones", password="Existing-Password-1")
        print(f"Directory: {env.directory.uri} (seeded ClearOS-like organisation, base {env.directory.suffix})")
        print(f"Google:    {env.emulator.base_url} (Directory API emulator, super admin {ADMIN_EMAIL})")
        print(f"Config:    {env.config_path}")

        heading("1. Test synchronization: what would change (nothing is written)")
        run(command, env, "test")
        heading("2. Synchronization")
        code = run(command, env, "sync")
        heading("3. What Google holds now")
        show_google(env)
        heading("4. Test again: in step, no write needed")
        run(command, env, "test")
        heading("5. Bob's Google Apps switch is turned off: he is suspended, not deleted")
        env.directory.remove_from_group("google_apps_plugin", "bob")
        run(command, env, "sync")
        show_google(env)
        heading("6. History")
        run(command, env, "status")
        if console:
            from app_google_sync.host.demo import run_console  # noqa: PLC0415  (Flask only when the console is wanted)

            heading("7. The web console: Server › Messaging and Collaboration › Google Apps Synchronization")
            run_console(port=port, env=env)
        elif keep_running:
            print(f"\nServers stay up; try: google-sync --config {env.config_path} test   (Ctrl-C to stop)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        else:
            print(
                "\nDone: both servers stop now. 'google-sync demo --console' also serves the web console on this demo "
                "(the default from a terminal); '--keep-running' keeps the servers up for the command line."
            )
        return 0 if code == 0 else 1
