"""Google's side: credentials, the Directory API client, paged reads and retried batches.

Works with Google itself or any Directory-API-compatible endpoint (the bundled
emulator): the endpoint and the token URI come from the configuration.
"""
from __future__ import annotations

import json
import logging
import random
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import google_auth_httplib2
import httplib2
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest, HttpRequest

from . import metrics
from .config import GOOGLE_TOKEN_URI, GoogleSettings, Settings, SyncSettings
from .errors import ConfigError, TargetError
from .model import GoogleGroup, GoogleState, GoogleUser
from .pacing import Pacer

log = logging.getLogger(__name__)

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
SCOPES = (
    SCOPE_PREFIX + "admin.directory.user",
    SCOPE_PREFIX + "admin.directory.group",
    SCOPE_PREFIX + "admin.directory.group.member",
)
ORGUNIT_SCOPE = SCOPE_PREFIX + "admin.directory.orgunit"
GROUP_SETTINGS_SCOPE = SCOPE_PREFIX + "apps.groups.settings"
BATCH_PATHS = {"directory": "batch/admin/directory_v1", "groupssettings": "batch/groupssettings/v1"}
USER_FIELDS = "id,primaryEmail,name(givenName,familyName),suspended,isAdmin,isDelegatedAdmin,organizations,phones,externalIds,aliases,orgUnitPath"
GROUP_FIELDS = "id,email,name,description"
MAX_USERS_PAGE = 500  # Google's ceilings; larger values are refused with 400
MAX_GROUPS_PAGE = 200
MAX_BATCH_PARTS = 1000
QUOTA_REASONS = {"userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded"}
RETRY_REASONS = QUOTA_REASONS | {"backendError", "conditionNotMet"}
PACER_FILE = "quota-budget.json"
# httplib2 silently sends a request again when its connection closes unanswered, even a POST: a
# users.insert whose answer was lost then comes back 409 and looks like someone else's account.
# One attempt only: this module retries itself, knowing the first attempt may have been applied.
httplib2.RETRIES = 1
TRANSPORT_ERRORS = (httplib2.HttpLib2Error, ConnectionError, socket.timeout, TimeoutError, TransportError)


@dataclass(frozen=True)
class Outcome:
    """What one request gave: a response, or a TargetError."""

    response: dict | None = None
    error: TargetError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def target_error(error: HttpError) -> TargetError:
    """Google's JSON error body turned into a TargetError with status and reason."""
    message, reason = error.reason or "", ""
    try:
        body = json.loads(error.content.decode("utf-8") if isinstance(error.content, bytes) else error.content)
        details = body.get("error", {})
        message = details.get("message", message)
        reason = (details.get("errors") or [{}])[0].get("reason", "")
    except (ValueError, AttributeError):
        pass
    return TargetError(f"{error.status_code} {message}", status=error.status_code, reason=reason)


UNREACHABLE_RETRIES = 2  # an endpoint that does not answer at all is retried briefly, not for minutes


def is_retriable(error: TargetError, attempt: int = 0) -> bool:
    if error.status == 0:
        return attempt < UNREACHABLE_RETRIES
    if error.status in (429, 500, 502, 503, 504):
        return True
    if error.reason in RETRY_REASONS:
        return True
    # New accounts can briefly refuse follow-up calls while Google finishes creating them.
    return "creation is not complete" in str(error).lower()


def read_key(settings: GoogleSettings) -> dict:
    """The service-account key file, checked for shape (its content is never logged)."""
    path = settings.credentials_file
    if not path:
        raise ConfigError("[google] credentials_file is not set: give the path of the service-account JSON key")
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except OSError as error:
        raise ConfigError(f"[google] credentials_file = {path}: cannot read it ({error.strerror})") from None
    except ValueError:
        raise ConfigError(f"[google] credentials_file = {path}: not a JSON service-account key") from None
    if info.get("type") not in ("service_account", "authorized_user"):
        raise ConfigError(
            f"[google] credentials_file = {path}: type is {info.get('type')!r}; "
            "give a service-account key or the authorized_user file written by the console's 'Connect to Google'"
        )
    return info


def required_scopes(settings: Settings) -> tuple[str, ...]:
    """The scopes to delegate: the directory's, plus those of the optional features switched on.

    Google refuses a token outright when one requested scope is not delegated, so
    an optional feature's scope is asked for only when that feature is in use.
    """
    extra = [ORGUNIT_SCOPE] if settings.sync.org_units else []
    if settings.sync.posting_policy or any(policy for _, policy in settings.sync.posting_overrides):
        extra.append(GROUP_SETTINGS_SCOPE)
    return SCOPES + tuple(extra)


def load_credentials(settings: GoogleSettings, scopes: Iterable[str] = SCOPES):
    """Service-account credentials acting as admin_email, or an administrator's OAuth refresh token."""
    info = read_key(settings)
    if settings.token_uri:
        info = {**info, "token_uri": settings.token_uri}
    try:
        if info["type"] == "authorized_user":
            credentials = user_credentials.Credentials.from_authorized_user_info(info, scopes=list(scopes))
            # from_authorized_user_info ignores the file's token_uri and would always ask Google's.
            return credentials.with_token_uri(info.get("token_uri") or GOOGLE_TOKEN_URI)
        return service_account.Credentials.from_service_account_info(info, scopes=list(scopes), subject=settings.admin_email)
    except (ValueError, KeyError) as error:
        raise ConfigError(f"[google] credentials_file = {settings.credentials_file}: the key is incomplete or damaged ({error})") from None


def token_error_message(error: Exception, settings: GoogleSettings, client_id: str = "", scopes: Iterable[str] = SCOPES) -> str:
    text = str(error)
    if "unauthorized_client" in text:
        return (
            f"Google refused a token: the service account (client ID {client_id or '?'}) is not allowed these scopes. "
            "In Google Admin > Security > Access and data control > API controls > Domain-wide delegation, "
            f"add the client ID with the scopes: {','.join(scopes)}"
        )
    if "invalid_grant" in text:
        return f"Google refused a token for {settings.admin_email}: check [google] admin_email names an active super administrator ({text})"
    return f"cannot get a token from {settings.token_uri or 'Google'}: {text}"


class Backoff:
    """Exponential backoff with jitter (1, 2, 4 … seconds, capped, each scaled by a random factor),
    for at most ``retries`` attempts and within ``deadline`` seconds of the first one."""

    def __init__(self, retries: int | None = None, deadline: float | None = None, base: float = 1.0, cap: float = 32.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.retries, self.deadline, self.base, self.cap = retries, deadline, base, cap
        self.sleep, self.clock = sleep, clock

    def delay(self, attempt: int) -> float:
        step = min(self.cap, self.base * 2**attempt)
        return step / 2 + random.uniform(0, step / 2)

    def allows(self, attempt: int, started: float, delay: float = 0.0) -> bool:
        """Whether retry number ``attempt`` (0 = the first retry) may still happen ``delay`` seconds from now."""
        if self.retries is not None and attempt >= self.retries:
            return False
        return self.deadline is None or self.clock() + delay <= started + self.deadline

    def retry_after(self, error: TargetError, attempt: int, started: float) -> float | None:
        """Seconds to wait before sending again after ``error`` (None: give up). A quota answer waits on the
        pacer, not here, and does not count as an attempt; a server error backs off."""
        if is_quota(error):
            return 0.0 if self.allows(0, started) else None
        delay = self.delay(attempt)
        return delay if self.allows(attempt, started, delay) else None


def is_quota(error: TargetError) -> bool:
    """Google's "too fast": the pacer's business, not a failure of the part."""
    return error.status == 429 or error.reason in QUOTA_REASONS


class TokenError(TargetError):
    """No access token could be had: nothing more can be sent in this run."""


class GoogleTarget:
    def __init__(self, settings: GoogleSettings, sync: SyncSettings, credentials=None, backoff: Backoff | None = None,
                 scopes=SCOPES, pacer: Pacer | None = None):
        self.settings = settings
        self.scopes = tuple(scopes)
        self.batch_size = min(sync.batch_size, MAX_BATCH_PARTS)
        self.backoff = backoff or Backoff(sync.max_retries, settings.retry_deadline)
        self.pacer = pacer or Pacer(settings.queries_per_minute, state_file=Path(sync.state_dir) / PACER_FILE if sync.state_dir else None)
        self._credentials = credentials
        self._service = None
        self._settings_service = None
        self._resources: dict[str, object] = {}
        self._http = None
        self._no_batch: set[str] = set()  # APIs whose endpoint refused the batch route

    # -- plumbing ----------------------------------------------------------------

    @property
    def credentials(self):
        if self._credentials is None:
            self._credentials = load_credentials(self.settings, self.scopes)
        return self._credentials

    @property
    def service(self):
        if self._service is None:
            self._http = google_auth_httplib2.AuthorizedHttp(self.credentials, http=httplib2.Http(timeout=60))
            self._service = build(
                "admin",
                "directory_v1",
                http=self._http,
                client_options={"api_endpoint": self.settings.api_endpoint},
                static_discovery=True,
                cache_discovery=False,
            )
        return self._service

    def _resource(self, name: str, make: Callable[[], object]):
        """Each resource built once: googleapiclient builds every method (and its docstring) on each call of service.users()."""
        if name not in self._resources:
            self._resources[name] = make()
        return self._resources[name]

    @property
    def group_settings(self):
        """The Groups Settings API; with an api_endpoint the client drops its service path, so it is given whole."""
        if self._settings_service is None:
            self.service  # noqa: B018  (creates the authorized HTTP client both services share)
            self._settings_service = build(
                "groupssettings",
                "v1",
                http=self._http,
                client_options={"api_endpoint": self.settings.api_endpoint + "groups/v1/groups/"},
                static_discovery=True,
                cache_discovery=False,
            )
        return self._resource("group_settings", self._settings_service.groups)

    @property
    def users(self):
        return self._resource("users", lambda: self.service.users())

    @property
    def aliases(self):
        return self._resource("aliases", lambda: self.users.aliases())

    @property
    def groups(self):
        return self._resource("groups", lambda: self.service.groups())

    @property
    def members(self):
        return self._resource("members", lambda: self.service.members())

    @property
    def orgunits(self):
        return self._resource("orgunits", lambda: self.service.orgunits())

    def call(self, request: HttpRequest) -> dict:
        """One request, paced, retried on quota and server errors; raises TargetError."""
        outcome = self._attempt(request)
        started, attempt = self.backoff.clock(), 0
        while not outcome.ok and is_retriable(outcome.error, attempt):
            delay = self.backoff.retry_after(outcome.error, attempt, started)
            if delay is None:
                break
            log.info("retrying %s %s in %.1fs: %s", request.method, request.uri, delay, outcome.error)
            self.backoff.sleep(delay)
            attempt += not is_quota(outcome.error)
            outcome = self._attempt(request)
        if not outcome.ok:
            raise outcome.error
        return outcome.response

    def _attempt(self, request: HttpRequest) -> Outcome:
        self.pacer.acquire(1)
        outcome = self._execute(request)
        self._count([outcome])
        return outcome

    def _execute(self, request: HttpRequest) -> Outcome:
        try:
            return Outcome(response=request.execute(http=self._http))
        except HttpError as error:
            return Outcome(error=target_error(error))
        except RefreshError as error:
            raise TokenError(token_error_message(error, self.settings, self.client_id, self.scopes)) from None
        except (GoogleAuthError, *TRANSPORT_ERRORS) as error:
            return Outcome(error=TargetError(f"cannot reach {self.settings.api_endpoint}: {error}"))

    def _count(self, outcomes: Iterable[Outcome]) -> None:
        outcomes = list(outcomes)
        metrics.count_calls(len(outcomes), [_rejection(outcome.error) for outcome in outcomes if not outcome.ok])
        if any(not outcome.ok and is_quota(outcome.error) for outcome in outcomes):
            self.pacer.throttled()
        else:
            self.pacer.answered(len(outcomes))

    @property
    def chunk_size(self) -> int:
        """Parts per batch now: batch_size, or less while the quota allows fewer calls per second."""
        return min(self.batch_size, self.pacer.chunk)

    @property
    def client_id(self) -> str:
        return str(read_key(self.settings).get("client_id", ""))

    def send(self, requests: dict[str, HttpRequest], api: str = "directory") -> dict[str, Outcome]:
        """One batch envelope (up to batch_size parts of one API), after waiting for its share of the quota.

        Raises TokenError when no access token can be had: then nothing was sent.
        """
        self.pacer.acquire(len(requests))
        outcomes = self._send_batch(requests, api)
        self._count(outcomes.values())
        return outcomes

    def batch(self, requests: dict[str, HttpRequest], api: str = "directory") -> dict[str, Outcome]:
        """Reads of one API in batches of batch_size; parts that fail with a retriable error are sent again."""
        outcomes: dict[str, Outcome] = {}
        pending = dict(requests)
        started, attempt = self.backoff.clock(), 0
        while pending:
            for chunk in _chunks(list(pending.items()), self.chunk_size):
                outcomes.update(self.send(dict(chunk), api))
            retriable = {key: pending[key] for key in pending if not outcomes[key].ok and is_retriable(outcomes[key].error, attempt)}
            if not retriable:
                break
            worst = next((outcomes[key].error for key in retriable if not is_quota(outcomes[key].error)), outcomes[next(iter(retriable))].error)
            delay = self.backoff.retry_after(worst, attempt, started)
            if delay is None:
                break
            log.info("retrying %d batch parts in %.1fs (%s)", len(retriable), delay, worst)
            self.backoff.sleep(delay)
            attempt += not is_quota(worst)
            pending = retriable
        return outcomes

    def _send_batch(self, requests: dict[str, HttpRequest], api: str) -> dict[str, Outcome]:
        if api in self._no_batch:
            return {key: self._execute(request) for key, request in requests.items()}
        outcomes: dict[str, Outcome] = {}

        def collect(request_id, response, exception):
            outcomes[request_id] = Outcome(error=target_error(exception)) if exception else Outcome(response=response or {})

        batch = BatchHttpRequest(callback=collect, batch_uri=self.settings.api_endpoint + BATCH_PATHS[api])
        for key, request in requests.items():
            batch.add(request, request_id=key)
        try:
            batch.execute(http=self._http)
        except HttpError as error:
            if error.status_code in (404, 405, 501):
                # An endpoint without the batch route: slower, one request each, but the run still goes on.
                log.warning("%s has no batch endpoint (%s); sending requests one by one", self.settings.api_endpoint, error.status_code)
                self._no_batch.add(api)
                return self._send_batch(requests, api)
            whole = target_error(error)
            return {key: Outcome(error=whole) for key in requests}
        except RefreshError as error:
            raise TokenError(token_error_message(error, self.settings, self.client_id, self.scopes)) from None
        except (GoogleAuthError, *TRANSPORT_ERRORS) as error:
            failure = TargetError(f"cannot reach {self.settings.api_endpoint}: {error}")
            return {key: outcomes.get(key, Outcome(error=failure)) for key in requests}
        return outcomes

    # -- reads -------------------------------------------------------------------

    def _pages(self, method, item_key: str, **params) -> Iterable[dict]:
        token = None
        while True:
            page = self.call(method(pageToken=token, **params) if token else method(**params))
            yield from page.get(item_key, [])  # an empty page omits the key altogether
            token = page.get("nextPageToken")
            if not token:
                return

    def read_users(self) -> list[GoogleUser]:
        pages = self._pages(
            self.users.list,
            "users",
            domain=self.settings.domain,
            maxResults=MAX_USERS_PAGE,
            projection="basic",
            fields=f"nextPageToken,users({USER_FIELDS})",
        )
        return [GoogleUser.from_api(resource) for resource in pages]

    def read_groups(self) -> list[dict]:
        return list(
            self._pages(
                self.groups.list,
                "groups",
                domain=self.settings.domain,
                maxResults=MAX_GROUPS_PAGE,
                fields=f"nextPageToken,groups({GROUP_FIELDS})",
            )
        )

    def _members_request(self, group_id: str, token: str | None = None) -> HttpRequest:
        params = {"groupKey": group_id, "maxResults": MAX_GROUPS_PAGE, "fields": "nextPageToken,members(id,email,type)"}
        return self.members.list(pageToken=token, **params) if token else self.members.list(**params)

    def read_members(self, group_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """Direct USER and GROUP members of many groups (external addresses aside), as address → Google id;
        first pages fetched together in batches."""
        members: dict[str, dict[str, str]] = {group_id: {} for group_id in group_ids}
        pending = {group_id: self._members_request(group_id) for group_id in members}
        while pending:
            outcomes = self.batch(pending)
            next_pages = {}
            for group_id, outcome in outcomes.items():
                if not outcome.ok:
                    raise TargetError(f"cannot read the members of group {group_id}: {outcome.error}", outcome.error.status, outcome.error.reason)
                for member in outcome.response.get("members", []):
                    if member.get("type", "USER") in ("USER", "GROUP") and member.get("email"):
                        members[group_id][member["email"].lower()] = member.get("id", "")
                if outcome.response.get("nextPageToken"):
                    next_pages[group_id] = self._members_request(group_id, outcome.response["nextPageToken"])
            pending = next_pages
        return members

    def read_state(self, member_groups: Callable[[dict], bool] = lambda group: True, org_units: bool = False) -> GoogleState:
        """Every user and group of the domain; members only of the groups the caller manages; org units if asked."""
        users = self.read_users()
        groups = self.read_groups()
        wanted = [group["id"] for group in groups if member_groups(group)]
        members = self.read_members(wanted)
        return GoogleState(
            users=tuple(users),
            groups=tuple(GoogleGroup.from_api(group, members.get(group["id"])) for group in groups),
            org_units=self.read_org_units() if org_units else None,
        )

    def read_org_units(self) -> frozenset[str]:
        request = self.orgunits.list(customerId="my_customer", type="all", fields="organizationUnits(orgUnitPath)")
        return frozenset({"/"} | {unit["orgUnitPath"] for unit in self.call(request).get("organizationUnits", [])})

    def read_group(self, key: str) -> dict | None:
        try:
            return self.call(self.groups.get(groupKey=key, fields=GROUP_FIELDS))
        except TargetError as error:
            if error.status == 404:
                return None
            raise

    def read_user(self, key: str) -> GoogleUser | None:
        try:
            return GoogleUser.from_api(self.call(self.users.get(userKey=key, projection="basic", fields=USER_FIELDS)))
        except TargetError as error:
            if error.status == 404:
                return None
            raise


def _rejection(error: TargetError) -> str:
    """A small set of labels for the metrics: quota, unreachable, or Google's reason."""
    if is_quota(error):
        return "quota"
    return error.reason or (str(error.status) if error.status else "unreachable")


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_access(settings: Settings) -> list[Check]:
    """Token first, then each required scope tried with a harmless read; names what is missing and the fix."""
    google = settings.google
    scopes = required_scopes(settings)
    credentials = load_credentials(google, scopes)
    client_id = str(read_key(google).get("client_id", ""))
    refusal = try_token(credentials)
    if refusal:
        delegated = isinstance(credentials, service_account.Credentials)  # a refresh token's scopes are fixed at consent
        missing = [scope for scope in scopes if delegated and try_token(credentials.with_scopes([scope]))]
        detail = token_error_message(RuntimeError(refusal), google, client_id, scopes)
        if missing:
            detail += f" (not delegated: {', '.join(missing)})"
        return [Check("token", False, detail)]
    identity = getattr(credentials, "service_account_email", "an administrator's OAuth grant")
    target = GoogleTarget(google, settings.sync, credentials=credentials, backoff=Backoff(2), scopes=scopes)
    checks = [Check("token", True, f"{identity} acting as {google.admin_email}")]
    first_group: dict = {}

    def read(request) -> str:
        target.call(request)
        return "read allowed"

    def list_groups() -> str:
        page = target.call(target.groups.list(domain=google.domain, maxResults=1, fields="groups(id,email)"))
        first_group.update((page.get("groups") or [{}])[0])
        return "read allowed"

    def on_a_group(request) -> str:
        return read(request(first_group)) if first_group else "no group in Google yet to try it on; the token includes the scope"

    reads = {
        SCOPES[0]: lambda: read(target.users.list(domain=google.domain, maxResults=1, fields="users(id)")),
        SCOPES[1]: list_groups,
        SCOPES[2]: lambda: on_a_group(lambda group: target.members.list(groupKey=group["id"], maxResults=1, fields="members(email)")),
        ORGUNIT_SCOPE: lambda: read(target.orgunits.list(customerId="my_customer", type="children", fields="organizationUnits(orgUnitPath)")),
        GROUP_SETTINGS_SCOPE: lambda: on_a_group(lambda group: target.group_settings.get(groupUniqueId=group["email"], fields="email")),
    }
    for scope in scopes:
        try:
            checks.append(Check(scope, True, reads[scope]()))
        except TargetError as error:
            checks.append(Check(scope, False, f"{error}: delegate this scope to client ID {client_id}"))
    return checks


def try_token(credentials) -> str:
    """'' when a token is granted, else Google's refusal."""
    try:
        credentials.refresh(google_auth_httplib2.Request(httplib2.Http(timeout=30)))
        return ""
    except (GoogleAuthError, *TRANSPORT_ERRORS) as error:
        return str(error)
