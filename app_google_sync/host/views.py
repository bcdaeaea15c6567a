"""The host's pages: login, dashboard, and the user and group manager over LDAP."""

from __future__ import annotations

import logging

import ldap
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from . import auth, security
from .accounts import ALL_USERS_GROUP, AccountDirectory, AlreadyExists, NewUser, NotFound
from .forms import GroupForm, UserForm, password_error
from .plugins import console_state, notify

log = logging.getLogger(__name__)

bp = Blueprint("host", __name__)

HOST_MENU = (
    ("System", "Accounts Manager", "Users", "host.users", "host.user"),
    ("System", "Accounts Manager", "Groups", "host.groups", "host.group"),
)


class DirectoryNotConfigured(Exception):
    pass


# --- access ---------------------------------------------------------------
@bp.before_request
def require_administrator():
    if request.endpoint == "host.login":
        return None
    if not current_user.is_authenticated or not getattr(current_user, "is_admin", False):
        return current_app.login_manager.unauthorized()
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("host.dashboard"))
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        address = request.remote_addr or "unknown"
        refusal = security.login_refusal(username, address)
        if refusal is not None:  # the password is not even looked at
            log.warning(
                "too many failed logins (%s locked for %d s more): login refused for user '%s' from %s",
                refusal.locked,
                refusal.retry_after,
                security.loggable(username),
                address,
            )
            flash(refusal.message, "error")
            page = render_template("host/login.html", username=username)
            return page, 429, {"Retry-After": str(int(refusal.retry_after) + 1)}
        administrator = auth.authenticate(username, request.form.get("password", ""))
        if administrator is not None:
            security.record_success(username, address)
            session.clear()  # a fresh session for the new privilege level
            login_user(administrator)
            security.start_session(administrator.get_id())
            log.info("administrator %s logged in from %s", username, address)
            return redirect(auth.safe_next(request.args.get("next"), url_for("host.dashboard")))
        # One line per failure, for fail2ban: failregex = login (failed|refused) for user '.*' from <HOST>$
        log.warning("login failed for user '%s' from %s", security.loggable(username), address)
        flash("Wrong username or password.", "error")
        lockout = security.record_failure(username, address)
        if lockout is not None:
            flash(lockout.message, "error")
    return render_template("host/login.html", username=username)


@bp.post("/logout")
def logout():
    security.end_session()
    logout_user()
    session.clear()
    flash("You have been logged out.", "info")
    return redirect(url_for("host.login"))


# --- the directory, one connection per request ------------------------------
def get_directory() -> AccountDirectory:
    if "console_directory" not in g:
        config = current_app.config
        if not config.get("CONSOLE_LDAP_URI"):
            raise DirectoryNotConfigured()
        g.console_directory = AccountDirectory(
            config["CONSOLE_LDAP_URI"],
            config["CONSOLE_LDAP_BIND_DN"],
            config["CONSOLE_LDAP_BIND_PASSWORD"],
            config["CONSOLE_LDAP_BASE_DN"],
            timeout=config["CONSOLE_LDAP_TIMEOUT"],
        )
    return g.console_directory


def close_directory(_exception=None) -> None:
    directory = g.pop("console_directory", None)
    if directory is not None:
        directory.close()


@bp.errorhandler(NotFound)
def not_found(error):
    return render_template("host/error.html", title="Not found", message=str(error)), 404


@bp.errorhandler(DirectoryNotConfigured)
def directory_not_configured(_error):
    message = "The user manager needs a directory: set CONSOLE_LDAP_URI, CONSOLE_LDAP_BIND_DN, CONSOLE_LDAP_BIND_PASSWORD and CONSOLE_LDAP_BASE_DN."
    return render_template("host/error.html", title="Directory not configured", message=message), 503


@bp.errorhandler(ldap.LDAPError)
def directory_failed(error):
    log.exception("directory request failed")
    if isinstance(error, (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.INVALID_CREDENTIALS, ldap.CONNECT_ERROR)):
        message = (
            "The directory server cannot be reached or refused the console's credentials. Check that slapd is running."
        )
        return render_template("host/error.html", title="Directory unavailable", message=message), 503
    detail = error.args[0].get("desc", "") if error.args and isinstance(error.args[0], dict) else ""
    message = f"The directory refused the change{': ' + detail if detail else ''}."
    return render_template("host/error.html", title="Directory error", message=message), 500


# --- helpers ----------------------------------------------------------------
def extensions():
    return console_state().user_extensions


def is_plugin_group(name: str) -> bool:
    return name.endswith("_plugin")


def selectable_groups(groups) -> list:
    """Groups an administrator picks for a user: not the system group, not apps' switch groups."""
    return [group for group in groups if group.name != ALL_USERS_GROUP and not is_plugin_group(group.name)]


def extension_for_group(name: str):
    return next((extension for extension in extensions() if extension.plugin_group == name), None)


def ensure_plugin_group(directory: AccountDirectory, extension) -> None:
    if directory.ensure_group(extension.plugin_group, f"{extension.label} - Plugin"):
        log.info("created group %s for the %s switch", extension.plugin_group, extension.label)


def report(message: str, failed: list[str]) -> None:
    flash(message, "success")
    if failed:
        flash(
            f"{', '.join(sorted(set(failed)))} could not be told about this change; see the console's log.", "warning"
        )


# --- dashboard ----------------------------------------------------------------
@bp.get("/")
def dashboard():
    console = console_state()
    counts, directory_error = None, None
    if current_app.config.get("CONSOLE_LDAP_URI"):
        try:
            directory = get_directory()
            counts = {"users": len(directory.users()), "groups": len(directory.groups())}
        except ldap.LDAPError as error:
            log.warning("dashboard: directory unavailable: %s", error)
            directory_error = "The directory server cannot be reached."
    apps = [entry for entry in console.menu if not entry.endpoint.startswith("host.")]
    return render_template(
        "host/dashboard.html", apps=apps, counts=counts, directory_error=directory_error, failures=console.failures
    )


# --- users ------------------------------------------------------------------
@bp.get("/users")
def users():
    directory = get_directory()
    groups = {group.name: group for group in directory.groups()}
    switched_on = {
        ext.name: set(groups[ext.plugin_group].members) if ext.plugin_group in groups else set() for ext in extensions()
    }
    shown = {group.name for group in selectable_groups(groups.values())}
    return render_template(
        "host/users.html", users=directory.users(), switched_on=switched_on, shown_groups=shown, extensions=extensions()
    )


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    directory = get_directory()
    groups = selectable_groups(directory.groups())
    form = prefilled_user_form(request.args)
    if request.method == "POST":
        form = UserForm.from_request(request.form)
        if create_user(directory, form, {group.name for group in groups}):
            return redirect(url_for("host.users"))
    return render_template(
        "host/user_form.html", form=form, groups=groups, extensions=extensions(), new=True
    ), 422 if form.errors else 200


def prefilled_user_form(args) -> UserForm:
    """A new-user form filled from the query string, so an app can link to "create this account".

    ``?uid=admin&given_name=…&family_name=…&mail=…&google_apps=on``: each
    extension's switch is on when its ``name`` is given as ``on``.
    """
    form = UserForm.from_request(args)
    form.switches = {ext.name for ext in extensions() if args.get(ext.name) in ("on", "1", "true")}
    return form


def create_user(directory: AccountDirectory, form: UserForm, selectable: set[str]) -> bool:
    form.validate(new=True)
    mail_domain = current_app.config.get("CONSOLE_MAIL_DOMAIN")
    if not form.mail and mail_domain and "uid" not in form.errors:
        form.mail = f"{form.uid}@{mail_domain}"
    problem = password_error(request.form.get("password", ""), request.form.get("confirm", ""))
    if problem:
        form.errors["password"] = problem
    if "uid" not in form.errors and directory.uid_taken(form.uid):
        form.errors["uid"] = f"The username {form.uid!r} is already taken."
    if form.errors:
        return False
    switched_on = [ext for ext in extensions() if ext.name in form.switches]
    for extension in switched_on:
        ensure_plugin_group(directory, extension)
    new = NewUser(
        uid=form.uid,
        given_name=form.given_name,
        family_name=form.family_name,
        mail=form.mail,
        password=request.form["password"],
        groups=tuple(sorted(form.groups & selectable)) + tuple(ext.plugin_group for ext in switched_on),
    )
    try:
        directory.add_user(new)
    except AlreadyExists as error:
        form.errors["form"] = str(error)
        return False
    log.info("created user %s", form.uid)
    report(f"User {form.uid} created.", notify("user_added", form.uid))
    return True


@bp.route("/users/<uid>/edit", methods=["GET", "POST"])
def user_edit(uid: str):
    directory = get_directory()
    user = directory.user(uid)
    groups = selectable_groups(directory.groups())
    selectable = {group.name for group in groups}
    if request.method == "POST":
        form = UserForm.from_request(request.form, uid=user.uid)
        if form.validate(new=False) and save_user(directory, user, form, selectable):
            return redirect(url_for("host.user_edit", uid=user.uid))
    else:
        form = UserForm(
            uid=user.uid,
            given_name=user.given_name,
            family_name=user.family_name,
            mail=user.mail,
            groups=set(user.groups) & selectable,
            switches={ext.name for ext in extensions() if ext.plugin_group in user.groups},
        )
    page = render_template(
        "host/user_form.html", form=form, user=user, groups=groups, extensions=extensions(), new=False
    )
    return page, 422 if form.errors else 200


def save_user(directory: AccountDirectory, user, form: UserForm, selectable: set[str]) -> bool:
    try:
        changed = directory.update_user(user.uid, form.given_name, form.family_name, form.mail)
    except AlreadyExists as error:
        form.errors["form"] = str(error)
        return False
    joined, left = directory.set_user_groups(user.uid, form.groups, among=selectable)
    toggled = []
    for extension in extensions():
        wanted, current = extension.name in form.switches, extension.plugin_group in user.groups
        if wanted == current:
            continue
        if wanted:
            ensure_plugin_group(directory, extension)
            directory.add_member(extension.plugin_group, user.uid)
        else:
            directory.remove_member(extension.plugin_group, user.uid)
        toggled.append((extension, wanted))
    if not (changed or joined or left or toggled):
        flash("Nothing to save: no field was changed.", "info")
        return True
    failed = notify("user_updated", user.uid) if changed or joined or left else []
    for extension, enabled in toggled:
        failed += notify("switch_toggled", user.uid, enabled, only=extension)
    log.info("updated user %s", user.uid)
    report(f"User {user.uid} saved.", failed)
    return True


@bp.post("/users/<uid>/password")
def user_password(uid: str):
    directory = get_directory()
    user = directory.user(uid)
    password = request.form.get("password", "")
    problem = password_error(password, request.form.get("confirm", ""))
    if problem:
        flash(problem, "error")
        return redirect(url_for("host.user_edit", uid=user.uid, _anchor="password"))
    directory.set_password(user.uid, password)
    log.info("set the password of user %s", user.uid)
    report(f"Password of {user.uid} changed.", notify("password_changed", user.uid, password))
    return redirect(url_for("host.user_edit", uid=user.uid))


@bp.post("/users/<uid>/lock")
def user_lock(uid: str):
    directory = get_directory()
    user = directory.user(uid)
    locked = request.form.get("locked") == "1"
    if directory.set_locked(user.uid, locked):
        log.info("%s user %s", "locked" if locked else "unlocked", user.uid)
        report(f"User {user.uid} {'locked' if locked else 'unlocked'}.", notify("user_updated", user.uid))
    return redirect(url_for("host.user_edit", uid=user.uid))


@bp.route("/users/<uid>/delete", methods=["GET", "POST"])
def user_delete(uid: str):
    directory = get_directory()
    user = directory.user(uid)
    if request.method == "POST":
        uuid = directory.delete_user(user.uid)
        log.info("deleted user %s (%s)", user.uid, uuid)
        report(f"User {user.uid} deleted.", notify("user_deleted", user.uid, uuid))
        return redirect(url_for("host.users"))
    return render_template("host/user_delete.html", user=user, extensions=extensions())


# --- groups -----------------------------------------------------------------
@bp.get("/groups")
def groups():
    return render_template(
        "host/groups.html", groups=get_directory().groups(), plugin_groups={e.plugin_group: e for e in extensions()}
    )


@bp.route("/groups/new", methods=["GET", "POST"])
def group_new():
    form = GroupForm()
    if request.method == "POST":
        form = GroupForm.from_request(request.form)
        if form.validate(new=True):
            try:
                get_directory().add_group(form.name, form.description)
            except AlreadyExists as error:
                form.errors["name"] = str(error)
            else:
                log.info("created group %s", form.name)
                flash(f"Group {form.name} created. Choose its members.", "success")
                return redirect(url_for("host.group_edit", name=form.name))
    return render_template("host/group_new.html", form=form), 422 if form.errors else 200


@bp.route("/groups/<name>/edit", methods=["GET", "POST"])
def group_edit(name: str):
    directory = get_directory()
    group = directory.group(name)
    if group.name == ALL_USERS_GROUP:
        flash(f"{ALL_USERS_GROUP} is managed by the system: every user belongs to it.", "info")
        return redirect(url_for("host.groups"))
    extension = extension_for_group(group.name)
    form = GroupForm(name=group.name, description=group.description)
    if request.method == "POST":
        form = GroupForm.from_request(request.form, name=group.name)
        if form.validate(new=False):
            save_group(directory, group, form, extension)
            return redirect(url_for("host.group_edit", name=group.name))
        members = set(request.form.getlist("members"))
    else:
        members = set(group.members)
    page = render_template(
        "host/group_edit.html", group=group, form=form, members=members, users=directory.users(), extension=extension
    )
    return page, 422 if form.errors else 200


def save_group(directory: AccountDirectory, group, form: GroupForm, extension) -> None:
    described = directory.update_group(group.name, form.description)
    known = {user.uid for user in directory.users()}
    added, removed = directory.set_members(group.name, set(request.form.getlist("members")) & known)
    if not (described or added or removed):
        flash("Nothing to save: no field was changed.", "info")
        return
    failed = []
    if extension is not None:
        for uid in added:
            failed += notify("switch_toggled", uid, True, only=extension)
        for uid in removed:
            failed += notify("switch_toggled", uid, False, only=extension)
    else:
        for uid in added + removed:
            failed += notify("user_updated", uid)
    log.info("updated group %s: %d added, %d removed", group.name, len(added), len(removed))
    report(f"Group {group.name} saved.", failed)


@bp.route("/groups/<name>/delete", methods=["GET", "POST"])
def group_delete(name: str):
    directory = get_directory()
    group = directory.group(name)
    extension = extension_for_group(group.name)
    if group.name == ALL_USERS_GROUP or extension is not None:
        reason = "the system" if extension is None else f"the {extension.label} app"
        flash(f"Group {group.name} is used by {reason} and cannot be deleted.", "error")
        return redirect(url_for("host.groups"))
    if request.method == "POST":
        members = directory.delete_group(group.name)
        log.info("deleted group %s", group.name)
        failed = []
        for uid in members:
            failed += notify("user_updated", uid)
        report(f"Group {group.name} deleted.", failed)
        return redirect(url_for("host.groups"))
    return render_template("host/group_delete.html", group=group)


@bp.app_errorhandler(404)
def page_not_found(_error):
    return render_template("host/error.html", title="Page not found", message="There is no page at this address."), 404
