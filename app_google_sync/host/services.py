"""Services the host offers its plugins in ``app.extensions["console"]`` (README: the plugin contract).

A plugin finds them by attribute and checks for None, so a host without a
directory (or an older host) simply does not offer them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import ldap

from .accounts import AccountError, NewUser, NotFound
from .forms import UserForm, password_error
from .plugins import console_state, notify
from .views import ALL_USERS_GROUP, ensure_plugin_group, get_directory, is_plugin_group

log = logging.getLogger(__name__)


def create_user(
    uid: str, given_name: str, family_name: str, mail: str, groups: Iterable[str] = (), password: str | None = None
) -> str:
    """Create a directory user as the new-user form does, inside a request; returns its DN.

    ``groups`` may name ordinary groups and the ``plugin_group`` of installed
    user extensions (their switch: the group is created when missing). With
    ``password=None`` the account gets no password until one is set. Every
    user extension's ``user_added(uid)`` is called afterwards; one that fails is
    logged and does not fail the call. Raises ValueError (AccountError) with a
    message for the administrator: invalid or taken name, unknown group.
    """
    form = UserForm(
        uid=(uid or "").strip(),
        given_name=(given_name or "").strip(),
        family_name=(family_name or "").strip(),
        mail=(mail or "").strip(),
    )
    if not form.validate(new=True):
        raise AccountError(next(iter(form.errors.values())))
    if password is not None and (problem := password_error(password, password)):
        raise AccountError(problem)
    directory = get_directory()
    switches = {extension.plugin_group: extension for extension in console_state().user_extensions}
    wanted = tuple(sorted(set(groups)))
    try:
        if directory.uid_taken(form.uid):
            raise AccountError(f"The username {form.uid!r} is already taken.")
        for name in wanted:
            if name in switches:
                ensure_plugin_group(directory, switches[name])
            elif name == ALL_USERS_GROUP or is_plugin_group(name) or not directory.group_exists(name):
                raise NotFound(f"There is no group {name!r} a user can be added to.")
        user = directory.add_user(NewUser(form.uid, form.given_name, form.family_name, form.mail, password, wanted))
    except ldap.LDAPError as error:
        log.exception("creating user %s for a plugin failed", form.uid)
        raise AccountError(f"The directory refused the new user {form.uid!r} ({type(error).__name__}).") from None
    log.info("created user %s for a plugin%s", form.uid, "" if password is not None else " (no password yet)")
    failed = notify("user_added", form.uid)
    if failed:
        log.warning("%s could not be told about the new user %s", ", ".join(failed), form.uid)
    return user.dn
