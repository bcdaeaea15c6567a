"""Settings and connection: domain, administrator, service-account key, OAuth grant, disconnect."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, session, url_for

from app_google_sync.libraries.core.errors import ConfigError
from app_google_sync.libraries.google import credentials
from app_google_sync.libraries.google.google_target import SCOPES, required_scopes
from app_google_sync.libraries.ops import notify
from app_google_sync.libraries.runtime.scheduler import reconcile
from app_google_sync.libraries.settings import config_file
from app_google_sync.libraries.settings import config_schema as schema

from .blueprint import blueprint, console, flash, load_settings, raw_config

log = logging.getLogger(__name__)

OAUTH_SESSION_KEY = "google_sync_oauth"


def scopes() -> tuple[str, ...]:
    """The scopes to delegate (or consent to): the directory's, plus those of the features switched on."""
    settings, _ = load_settings()
    return required_scopes(settings) if settings else SCOPES


def connection():
    return credentials.describe(config_file.value(raw_config(), "google", "credentials_file"), console().secrets_dir)


def render_settings(errors=None, form=None, status=200):
    parser = raw_config()
    values = form or {
        "domain": config_file.value(parser, "google", "domain"),
        "admin_email": config_file.value(parser, "google", "admin_email"),
    }
    page = render_template(
        "google_sync/settings.html",
        values=values,
        errors=errors or {},
        connection=connection(),
        scopes=scopes(),
        oauth_enabled=console().oauth_client is not None,
        secrets_dir=console().secrets_dir,
        notifications=notification_settings(parser),
    )
    return page, status


def notification_settings(parser) -> dict:
    """[notify] as the file says it (typed, defaults filled in), for the Notifications panel; it holds no password."""
    shown = (
        "email_to",
        "email_from",
        "smtp_host",
        "smtp_port",
        "starttls",
        "username",
        "when",
        "min_interval",
        "console_url",
    )
    values = {name: schema.value(parser, "notify", name) for name in shown}
    values["sender"] = values["email_from"] or "google-sync@<this server>"
    values["min_interval_text"] = schema.duration_text(values["min_interval"])
    return values


@blueprint.get("/settings")
def settings():
    return render_settings()


@blueprint.post("/settings")
def save_settings():
    form = {"domain": request.form.get("domain", ""), "admin_email": request.form.get("admin_email", "")}
    errors = {}
    domain = admin_email = ""
    try:
        domain = config_file.check_domain(form["domain"])
    except ConfigError as error:
        errors["domain"] = str(error)
    try:
        admin_email = config_file.check_admin_email(form["admin_email"], domain)
    except ConfigError as error:
        errors["admin_email"] = str(error)
    if errors:
        return render_settings(errors, form, status=400)
    config_file.update(console().config_path, "google", {"domain": domain, "admin_email": admin_email})
    flash(f"Saved: domain {domain}, administrator {admin_email}.", "success")
    return redirect(url_for(".settings"))


def shown_name(filename: str, limit: int = 80) -> str:
    """The uploaded file's name, as the administrator chose it, bounded (it is only ever echoed in the page)."""
    return filename if len(filename) <= limit else filename[:limit] + "…"


@blueprint.post("/settings/key")
def upload_key():
    upload = request.files.get("key")
    if upload is None or not upload.filename:
        return render_settings({"key": "Choose the service-account JSON key file to upload."}, status=400)
    try:
        info = credentials.parse_service_account_key(upload.stream.read(credentials.MAX_KEY_BYTES + 1))
    except credentials.CredentialsError as error:
        return render_settings({"key": f"{shown_name(upload.filename)} cannot be used: {error}."}, status=400)
    state = console()
    previous = connection()
    path = credentials.write_private(state.secrets_dir, credentials.SERVICE_ACCOUNT_FILE, info)
    config_file.update(state.config_path, "google", {"credentials_file": path})
    if previous.kind == "authorized_user" and previous.managed:
        credentials.revoke_refresh_token(previous.path, state.oauth_client)
        credentials.remove(previous.path)
    log.info("service-account key for %s stored in %s", info["client_email"], path)
    flash("Key stored. Now allow its client ID the scopes below in Google Admin, then test the connection.", "success")
    return redirect(url_for(".settings", _anchor="delegation"))


def _flow(redirect_uri: str, state: str):
    from google_auth_oauthlib.flow import Flow  # noqa: PLC0415

    client = console().oauth_client
    credentials.allow_plain_http_for(client["web"]["token_uri"])
    return Flow.from_client_config(
        client, scopes=list(scopes()), state=state, redirect_uri=redirect_uri, code_verifier=pkce_verifier(state)
    )


def pkce_verifier(state: str) -> str:
    """The PKCE code verifier of the connection ``state`` names, derived from the app's secret key.

    Nothing secret goes in the session, which is signed but readable by whoever holds the cookie: the
    verifier is recomputed at the callback (any process of the console can), and only a holder of
    SECRET_KEY could compute it (and such a holder can forge sessions anyway). 43 URL-safe characters (RFC 7636).
    """
    digest = hmac.new(
        current_app.secret_key.encode() if isinstance(current_app.secret_key, str) else current_app.secret_key,
        b"google_sync oauth pkce\x00" + state.encode(),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def callback_url() -> tuple[str, str]:
    """(the redirect URI to send Google, '') when the OAuth client lists this console's callback as reached now,
    else ('', why not). Never a URL built from a Host header the client does not know."""
    reached = url_for(".oauth_callback", _external=True)
    listed = console().oauth_client["web"].get("redirect_uris") or []
    if reached in listed:
        return reached, ""
    if not listed:
        return "", (
            f"the OAuth client (GOOGLE_SYNC_OAUTH_CLIENT) lists no redirect URI: add {reached} to it in the Google "
            "Cloud console, download its JSON again and restart the console"
        )
    return "", (
        f"this console was reached as {urlsplit(reached).netloc}, which the OAuth client (GOOGLE_SYNC_OAUTH_CLIENT) "
        f"does not list: open the console at {urlsplit(listed[0]).netloc}, or add {reached} to the client's redirect URIs"
    )


@blueprint.post("/connect/oauth")
def oauth_start():
    if console().oauth_client is None:
        flash("Connecting with a Google account is not set up on this server (GOOGLE_SYNC_OAUTH_CLIENT).", "error")
        return redirect(url_for(".settings"))
    redirect_uri, problem = callback_url()
    if problem:
        log.warning("Connect to Google refused: %s", problem)
        flash(f"Not connected: {problem}.", "error")
        return redirect(url_for(".settings"))
    state = secrets.token_urlsafe(24)
    flow = _flow(redirect_uri, state)
    hint = config_file.value(raw_config(), "google", "admin_email")
    url, _ = flow.authorization_url(
        access_type="offline", prompt="consent", state=state, **({"login_hint": hint} if hint else {})
    )
    session[OAUTH_SESSION_KEY] = {"state": state}
    return redirect(url)


@blueprint.get("/connect/oauth/callback")
def oauth_callback():
    saved = session.pop(OAUTH_SESSION_KEY, None)
    state = console()
    if state.oauth_client is None or not isinstance(saved, dict) or request.args.get("state") != saved.get("state"):
        flash(
            "The answer from Google does not belong to a connection started here; start again with Connect to Google.",
            "error",
        )
        return redirect(url_for(".settings"))
    if request.args.get("error"):
        flash(f"Google did not grant access ({request.args['error']}). Nothing was changed.", "error")
        return redirect(url_for(".settings"))
    redirect_uri, problem = callback_url()
    if problem:
        flash(f"Not connected: {problem}.", "error")
        return redirect(url_for(".settings"))
    flow = _flow(redirect_uri, saved["state"])
    try:
        flow.fetch_token(code=request.args.get("code", ""))
    except Exception as error:  # noqa: BLE001  (oauthlib, requests and Google errors alike end here)
        log.warning("OAuth code exchange failed: %s", type(error).__name__)
        flash(f"Google refused the sign-in ({type(error).__name__}); try Connect to Google again.", "error")
        return redirect(url_for(".settings"))
    refresh_token = flow.credentials.refresh_token
    if not refresh_token:
        flash(
            "Google sent no refresh token. Remove this app's access in your Google account, then connect again.",
            "error",
        )
        return redirect(url_for(".settings"))
    previous = connection()
    path = credentials.write_private(
        state.secrets_dir,
        credentials.AUTHORIZED_USER_FILE,
        credentials.authorized_user_info(state.oauth_client, refresh_token),
    )
    config_file.update(state.config_path, "google", {"credentials_file": path})
    if previous.kind == "service_account" and previous.managed:
        credentials.remove(previous.path)
    log.info("OAuth grant stored in %s", path)
    flash("Connected to Google with your administrator account. Test the connection next.", "success")
    return redirect(url_for(".check"))


@blueprint.post("/disconnect")
def disconnect():
    state = console()
    current = connection()
    notes = []
    if current.kind == "authorized_user":
        problem = credentials.revoke_refresh_token(current.path, state.oauth_client)
        notes.append(problem or "the refresh token was revoked")
    if current.path and current.managed:
        credentials.remove(current.path)
    elif current.path:
        notes.append(f"{current.path} was not written by the console and is left in place")
    config_file.update(state.config_path, "google", {"credentials_file": None})
    config_file.update(state.config_path, "sync", {"automatic": "no"})
    if state.scheduler is not None:
        reconcile(state.scheduler, config_file.Schedule(enabled=False))
    session.pop("google_sync_preview", None)
    log.info("disconnected from Google")
    flash(
        "Disconnected: automatic synchronization and pushes are stopped; every Google account is left as it is. "
        + "; ".join(notes),
        "success",
    )
    return redirect(url_for(".settings"))


@blueprint.post("/settings/notify-test")
def send_test_message():
    settings, problem = load_settings()
    if settings is None:
        flash(f"No test message sent: the configuration is incomplete ({problem}).", "error")
    else:
        try:
            notify.Notifier(settings, store=None).send_test()
        except notify.NotifyError as error:
            log.warning("test notification not sent: %s", error)
            flash(f"No test message sent: {error}.", "error")
        else:
            flash(f"Test message sent to {', '.join(settings.notify.email_to)}. Check that it arrived.", "success")
    return redirect(url_for(".settings", _anchor="notifications"))
