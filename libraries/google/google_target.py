"""Google's side: credentials, the Directory API client, paged reads and retried batches.

Works with Google itself or any Directory-API-compatible endpoint (the bundled
emulator): the endpoint and the token URI come from the configuration.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest, HttpRequest

from ..core import stopping
from ..core.errors import ConfigError, GoogleSyncError
from ..core.model import CustomField, GoogleGroup, GoogleState, GoogleUser
from ..settings.config import (
    GOOGLE_API_ENDPOINT,
    GOOGLE_TOKEN_URI,
    GoogleSettings,
    LicenseSettings,
    Settings,
    SyncSettings,
)
from . import calls
from .answers import ErrorKind, TargetError
from .pacing import Pacer
from .token_errors import token_error_message

log = logging.getLogger(__name__)

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
SCOPES = (
    SCOPE_PREFIX + "admin.directory.user",
    SCOPE_PREFIX + "admin.directory.group",
    SCOPE_PREFIX + "admin.directory.group.member",
)
ORGUNIT_SCOPE = SCOPE_PREFIX + "admin.directory.orgunit"
DOMAIN_SCOPE = SCOPE_PREFIX + "admin.directory.domain.readonly"
SCHEMA_SCOPE = SCOPE_PREFIX + "admin.directory.userschema.readonly"
LICENSING_SCOPE = SCOPE_PREFIX + "apps.licensing"
GOOGLE_LICENSING_ROOT = (
    "https://licensing.googleapis.com/"  # its own host at Google; an emulator serves it beside the rest
)
GROUP_SETTINGS_SCOPE = SCOPE_PREFIX + "apps.groups.settings"
SECURITY_SCOPE = SCOPE_PREFIX + "admin.directory.user.security"  # [offboarding] sign-out, tokens, app passwords
DATATRANSFER_SCOPE = SCOPE_PREFIX + "admin.datatransfer"  # [offboarding] transfers
# The Data Transfer API's ids of the applications [offboarding] transfers (applications.list gives the same).
APPLICATION_IDS = {"drive": "55656082996", "calendar": "435070579839"}
APPLICATION_NAMES = {"drive": "Drive", "calendar": "Calendar"}
BATCH_PATHS = {"directory": "batch/admin/directory_v1", "groupssettings": "batch/groupssettings/v1"}
USER_FIELDS = "id,primaryEmail,name(givenName,familyName),suspended,isAdmin,isDelegatedAdmin,organizations,phones,externalIds,aliases,orgUnitPath,relations,customerId,includeInGlobalAddressList"
GROUP_FIELDS = "id,email,name,description"
MAX_USERS_PAGE = 500  # Google's ceilings; larger values are refused with 400
MAX_GROUPS_PAGE = 200
MAX_BATCH_PARTS = 1000
PACER_FILE = "quota-budget.json"
# httplib2 silently sends a request again when its connection closes unanswered, even a POST: a
# users.insert whose answer was lost then comes back 409 and looks like someone else's account.
# One attempt only: this module retries itself, knowing the first attempt may have been applied.
httplib2.RETRIES = 1  # type: ignore[misc]  # the stub calls it Final; httplib2 documents it as the setting to change
# HTTPException: an answer cut short (IncompleteRead) or not HTTP at all, which httplib2 passes on as it is.
TRANSPORT_ERRORS = (
    httplib2.HttpLib2Error,
    http.client.HTTPException,
    ConnectionError,
    socket.timeout,
    TimeoutError,
    TransportError,
)


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
    return TargetError(
        f"{error.status_code} {message}", status=error.status_code, reason=reason, retry_after=_retry_after(error.resp)
    )


def _retry_after(resp) -> float:
    """Seconds a Retry-After header asks for (in seconds or as an HTTP date); 0 when there is none or it is unreadable."""
    value = resp.get("retry-after", "") if resp is not None else ""  # httplib2 lower-cases header names
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (email.utils.parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return 0.0


def unreadable(endpoint: str, what: str) -> TargetError:
    """An answer that is no API answer (a proxy's HTML page, one cut short, a batch lacking parts): like a lost
    answer, status 0, so it is retried briefly and a write it answered counts as possibly applied."""
    return TargetError(
        f"{endpoint} sent {what}, which is not a JSON answer of the Directory API: "
        "check [google] api_endpoint and any proxy between this server and Google"
    )


def unreachable(endpoint: str, error: Exception) -> TargetError:
    """No answer at all (refused, timed out, no route): the address named as the setting that gives it."""
    detail = " ".join(str(error).split()) or type(error).__name__
    return TargetError(
        f"cannot reach [google] api_endpoint = {endpoint} ({detail}): check it (Google's is "
        f"{GOOGLE_API_ENDPOINT}) and the network or proxy between this server and Google"
    )


def _answer(response, endpoint: str) -> Outcome:
    """A 2xx answer: the client hands over a body it could not parse as JSON as a string."""
    if isinstance(response, dict):
        return Outcome(response=response)
    if not response:  # 204 No Content, or an empty body
        return Outcome(response={})
    return Outcome(error=unreadable(endpoint, f"a page that begins {str(response)[:40]!r}"))


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
        info = None
    if not isinstance(info, dict):  # valid JSON can still be a list, a string or null
        raise ConfigError(f"[google] credentials_file = {path}: not a JSON service-account key")
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
    extra = [ORGUNIT_SCOPE] if settings.manages_org_units else []
    if settings.google.reads_domains:
        extra.append(DOMAIN_SCOPE)
    if settings.custom_attributes:
        extra.append(SCHEMA_SCOPE)
    if settings.licenses.product:
        extra.append(LICENSING_SCOPE)
    if settings.sync.posting_policy or any(policy for _, policy in settings.sync.posting_overrides):
        extra.append(GROUP_SETTINGS_SCOPE)
    if settings.offboarding.security:
        extra.append(SECURITY_SCOPE)
    if settings.offboarding.transfer_data_to:
        extra.append(DATATRANSFER_SCOPE)
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
        return service_account.Credentials.from_service_account_info(
            info, scopes=list(scopes), subject=settings.admin_email
        )
    except (ValueError, KeyError) as error:
        raise ConfigError(
            f"[google] credentials_file = {settings.credentials_file}: the key is incomplete or damaged ({error})"
        ) from None


class Backoff:
    """Exponential backoff with jitter (1, 2, 4 … seconds, capped, each scaled by a random factor),
    for at most ``retries`` attempts and within ``deadline`` seconds of the first one."""

    def __init__(
        self,
        retries: int | None = None,
        deadline: float | None = None,
        base: float = 1.0,
        cap: float = 32.0,
        sleep: Callable[[float], None] = stopping.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
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
        pacer, not here, and does not count as an attempt; a server error backs off. Either waits at least
        what the answer's Retry-After asked: sending sooner only earns the same answer again."""
        if error.quota:
            return error.retry_after if self.allows(0, started, error.retry_after) else None
        delay = max(self.delay(attempt), error.retry_after)
        return delay if self.allows(attempt, started, delay) else None


class TokenError(TargetError):
    """No access token could be had: nothing more can be sent in this run."""


class GoogleTarget:
    def __init__(
        self,
        settings: GoogleSettings,
        sync: SyncSettings,
        credentials=None,
        backoff: Backoff | None = None,
        scopes=SCOPES,
        pacer: Pacer | None = None,
        custom_fields: bool = False,
        licenses: LicenseSettings | None = None,
    ):
        self.settings = settings
        self.licenses_wanted = licenses or LicenseSettings()  # [licenses]: whose assignments are read
        # Custom schema fields are read (schemas.list, and users with projection=full) only when some are mapped.
        self.custom_fields = custom_fields
        self.scopes = tuple(scopes)
        self.batch_size = min(sync.batch_size, MAX_BATCH_PARTS)
        self.backoff = backoff or Backoff(sync.max_retries, settings.retry_deadline)
        self.pacer = pacer or Pacer(
            settings.queries_per_minute, state_file=Path(sync.state_dir) / PACER_FILE if sync.state_dir else None
        )
        self._credentials = credentials
        self._service = None
        self._settings_service: Any = None
        self._licensing_service: Any = None
        self._transfer_service: Any = None
        self._resources: dict[str, object] = {}
        self._http = None
        self._no_batch: set[str] = set()  # APIs whose endpoint refused the batch route
        self._domains: dict | None = None  # read once per target (a run)
        self._accounts: dict[
            str, GoogleUser | TargetError | None
        ] = {}  # read ahead for a batch of pushes: key -> account

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
    def licensing_root(self) -> str:
        return (
            GOOGLE_LICENSING_ROOT if self.settings.api_endpoint == GOOGLE_API_ENDPOINT else self.settings.api_endpoint
        )

    @property
    def licenses(self):
        """The Enterprise License Manager's licenseAssignments (another API: its own host and batches)."""
        if self._licensing_service is None:
            self.service  # noqa: B018  (creates the authorized HTTP client the services share)
            self._licensing_service = build(
                "licensing",
                "v1",
                http=self._http,
                client_options={"api_endpoint": self.licensing_root},
                static_discovery=True,
                cache_discovery=False,
            )
        return self._resource("licenses", self._licensing_service.licenseAssignments)

    @property
    def users(self):
        return self._resource("users", lambda: self.service.users())

    @property
    def tokens(self):
        return self._resource("tokens", lambda: self.service.tokens())

    @property
    def asps(self):
        return self._resource("asps", lambda: self.service.asps())

    @property
    def transfers(self):
        """The Data Transfer API's transfers (admin.datatransfer v1: the same host as the Directory API at Google)."""
        return self._resource("transfers", lambda: self._datatransfer.transfers())

    @property
    def transfer_applications(self):
        return self._resource("transfer_applications", lambda: self._datatransfer.applications())

    @property
    def _datatransfer(self):
        if self._transfer_service is None:
            self.service  # noqa: B018  (creates the authorized HTTP client the services share)
            self._transfer_service = build(
                "admin",
                "datatransfer_v1",
                http=self._http,
                client_options={"api_endpoint": self.settings.api_endpoint},
                static_discovery=True,
                cache_discovery=False,
            )
        return self._transfer_service

    @property
    def aliases(self):
        return self._resource("aliases", lambda: self.users.aliases())

    @property
    def photos(self):
        return self._resource("photos", lambda: self.users.photos())

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
        while (error := outcome.error) is not None and error.retriable(attempt):
            delay = self.backoff.retry_after(error, attempt, started)
            if delay is None:
                break
            log.info("retrying %s %s in %.1fs: %s", request.method, request.uri, delay, error)
            self.backoff.sleep(delay)
            attempt += not error.quota
            outcome = self._attempt(request)
        if outcome.error is not None:
            raise outcome.error
        return outcome.response or {}

    def _attempt(self, request: HttpRequest) -> Outcome:
        self.pacer.acquire(1)
        outcome = self._execute(request)
        self._count([outcome])
        return outcome

    def _execute(self, request: HttpRequest) -> Outcome:
        try:
            return _answer(request.execute(http=self._http), self.settings.api_endpoint)
        except HttpError as error:
            return Outcome(error=target_error(error))
        except RefreshError as error:
            raise TokenError(token_error_message(error, self.settings, self.client_id, self.scopes)) from None
        except (GoogleAuthError, *TRANSPORT_ERRORS) as error:
            return Outcome(error=unreachable(self.settings.api_endpoint, error))

    def _count(self, outcomes: Iterable[Outcome]) -> None:
        outcomes = list(outcomes)
        errors = [outcome.error for outcome in outcomes if outcome.error is not None]
        calls.count_calls(len(outcomes), [error.metric_label() for error in errors])
        if any(error.quota for error in errors):
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
            failed = {
                key: error for key in pending if (error := outcomes[key].error) is not None and error.retriable(attempt)
            }
            if not failed:
                break
            retriable = {key: pending[key] for key in failed}
            # The longest Retry-After asked for, else a server error (which backs off) before a quota answer.
            worst = max(failed.values(), key=lambda error: (error.retry_after, not error.quota))
            delay = self.backoff.retry_after(worst, attempt, started)
            if delay is None:
                break
            log.info("retrying %d batch parts in %.1fs (%s)", len(retriable), delay, worst)
            self.backoff.sleep(delay)
            attempt += not worst.quota
            pending = retriable
        return outcomes

    def _batch_uri(self, api: str) -> str:
        if api == "licensing":
            return self.licensing_root + "batch"
        if api == "datatransfer":  # its discovery document's root, like licensing's
            return self.settings.api_endpoint + "batch"
        return self.settings.api_endpoint + BATCH_PATHS[api]

    def _send_batch(self, requests: dict[str, HttpRequest], api: str) -> dict[str, Outcome]:
        if api in self._no_batch:
            return {key: self._execute(request) for key, request in requests.items()}
        outcomes: dict[str, Outcome] = {}

        def collect(request_id, response, exception):
            outcomes[request_id] = (
                Outcome(error=target_error(exception)) if exception else _answer(response, self.settings.api_endpoint)
            )

        batch = BatchHttpRequest(callback=collect, batch_uri=self._batch_uri(api))
        for key, request in requests.items():
            batch.add(request, request_id=key)
        try:
            batch.execute(http=self._http)
        except KeyError:  # the client's way of saying the batch answer lacked a part: the answers were lost
            failure = unreadable(self.settings.api_endpoint, "a batch answer lacking some of its parts")
            return {key: outcomes.get(key, Outcome(error=failure)) for key in requests}
        except HttpError as error:
            if isinstance(error, BatchError):  # a batch answer the client cannot parse: like a lost answer
                failure = unreadable(self.settings.api_endpoint, f"a batch answer that cannot be read ({error.reason})")
                return {key: outcomes.get(key, Outcome(error=failure)) for key in requests}
            if error.status_code in (404, 405, 501):
                # An endpoint without the batch route: slower, one request each, but the run still goes on.
                log.warning(
                    "%s has no batch endpoint (%s); sending requests one by one",
                    self.settings.api_endpoint,
                    error.status_code,
                )
                self._no_batch.add(api)
                return self._send_batch(requests, api)
            whole = target_error(error)
            return {key: Outcome(error=whole) for key in requests}
        except RefreshError as error:
            raise TokenError(token_error_message(error, self.settings, self.client_id, self.scopes)) from None
        except (GoogleAuthError, *TRANSPORT_ERRORS) as error:
            failure = unreachable(self.settings.api_endpoint, error)
            return {key: outcomes.get(key, Outcome(error=failure)) for key in requests}
        return outcomes

    # -- reads -------------------------------------------------------------------

    def _pages(self, method, item_key: str, what: str = "", **params) -> Iterable[dict]:
        """Every item, page after page until no nextPageToken: a page may hold fewer items than asked, or none.
        ``what`` names the list in errors (default: ``item_key``)."""
        what = what or item_key
        token: str | None = None
        seen: set[str] = set()
        while True:
            try:
                page = self.call(method(pageToken=token, **params) if token else method(**params))
            except TokenError:
                raise
            except TargetError as error:
                raise list_failed(what, error) from None
            yield from page.get(item_key, [])  # an empty page omits the key altogether
            token = page.get("nextPageToken")
            if not token:
                return
            _check_new_token(token, seen, what)

    def _where(self) -> dict:
        """Which users and groups a list reads: the primary domain's, or with several domains the whole account's."""
        return {"customer": "my_customer"} if self.settings.multi_domain else {"domain": self.settings.domain}

    def read_domains(self) -> dict:
        """The account's verified domains (primary and secondary) and domain aliases, as domains.list gives them, and
        those not verified yet (Google makes no address there until they are), as GoogleState's fields; read once."""
        if self._domains is None:
            page = self.call(
                self._resource("domains", lambda: self.service.domains()).list(
                    customer="my_customer",
                    fields="domains(domainName,verified,domainAliases(domainAliasName,verified))",
                )
            )
            domains = page.get("domains", [])
            listed = [(domain["domainName"].lower(), domain.get("verified", False)) for domain in domains]
            aliases = [
                (alias["domainAliasName"].lower(), alias.get("verified", False))
                for domain in domains
                for alias in domain.get("domainAliases", [])
            ]
            self._domains = {
                "domains": frozenset(name for name, verified in listed if verified),
                "domain_aliases": frozenset(name for name, verified in aliases if verified),
                "unverified_domains": frozenset(name for name, verified in listed + aliases if not verified),
            }
        return self._domains

    def read_custom_fields(self) -> tuple[CustomField, ...]:
        """Every field of the account's custom user schemas (schemas.list)."""
        request = self._resource("schemas", lambda: self.service.schemas()).list(
            customerId="my_customer", fields="schemas(schemaName,fields(fieldName,fieldType,multiValued))"
        )
        return tuple(
            CustomField(
                schema["schemaName"], spec["fieldName"], spec.get("fieldType", "STRING"), bool(spec.get("multiValued"))
            )
            for schema in self.call(request).get("schemas", [])
            for spec in schema.get("fields", [])
        )

    @property
    def _projection(self) -> str:
        return "full" if self.custom_fields else "basic"

    @property
    def _user_fields(self) -> str:
        return USER_FIELDS + (",customSchemas" if self.custom_fields else "")

    def read_users(self) -> list[GoogleUser]:
        pages = self._pages(
            self.users.list,
            "users",
            **self._where(),
            maxResults=MAX_USERS_PAGE,
            projection=self._projection,
            fields=f"nextPageToken,users({self._user_fields})",
        )
        return [GoogleUser.from_api(resource) for resource in pages]

    def read_groups(self) -> list[dict]:
        return list(
            self._pages(
                self.groups.list,
                "groups",
                **self._where(),
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
        seen: set[str] = set()
        while pending:
            outcomes = self.batch(pending)
            next_pages = {}
            for group_id, outcome in outcomes.items():
                if outcome.error is not None:
                    raise outcome.error.named(f"cannot read the members of group {group_id}: {outcome.error}")
                response = outcome.response or {}
                for member in response.get("members", []):
                    if member.get("type", "USER") in ("USER", "GROUP") and member.get("email"):
                        members[group_id][member["email"].lower()] = member.get("id", "")
                if token := response.get("nextPageToken"):
                    _check_new_token(f"{group_id} {token}", seen, f"members of group {group_id}")
                    next_pages[group_id] = self._members_request(group_id, token)
            pending = next_pages
        return members

    def read_state(
        self, member_groups: Callable[[dict], bool] = lambda group: True, org_units: bool = False
    ) -> GoogleState:
        """Every user and group of the domain (of the account, with several domains); members only of the groups
        the caller manages; org units if asked; the account's domains when the settings say to read them."""
        users = self.read_users()
        groups = self.read_groups()
        wanted = [group["id"] for group in groups if member_groups(group)]
        members = self.read_members(wanted)
        domains = self.read_domains() if self.settings.reads_domains else {}
        return GoogleState(
            users=tuple(users),
            groups=tuple(GoogleGroup.from_api(group, members.get(group["id"])) for group in groups),
            org_units=self.read_org_units() if org_units else None,
            **domains,
            custom_fields=self.read_custom_fields() if self.custom_fields else None,
            **(self.read_licences(_customer_of(users)) if self.licenses_wanted.product else {}),
        )

    def read_licences(self, customer_id: str) -> dict:
        """Who holds the [licenses] SKU, and who another SKU of its product (licenseAssignments.listForProduct:
        Google gives a user one SKU per product, so those need a reassignment, not a new licence)."""
        wanted = self.licenses_wanted
        pages = self._pages(
            self.licenses.listForProduct,
            "items",
            f"licence assignments of {wanted.product}",
            productId=wanted.product,
            customerId=customer_id or self.settings.domain,
            maxResults=1000,
            fields="nextPageToken,items(userId,skuId)",
        )
        skus = {item["userId"].lower(): item.get("skuId", "") for item in pages}
        return {
            "licensed": frozenset(email for email, sku in skus.items() if sku == wanted.sku),
            "licensed_elsewhere": tuple(sorted((email, sku) for email, sku in skus.items() if sku != wanted.sku)),
        }

    def holds_license(self, email: str) -> bool:
        """Whether one user holds the [licenses] SKU (for a targeted push: one call, no listing)."""
        wanted = self.licenses_wanted
        try:
            self.call(self.licenses.get(productId=wanted.product, skuId=wanted.sku, userId=email, fields="userId"))
            return True
        except TargetError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                return False
            raise

    def read_org_units(self) -> frozenset[str]:
        request = self.orgunits.list(customerId="my_customer", type="all", fields="organizationUnits(orgUnitPath)")
        return frozenset({"/"} | {unit["orgUnitPath"] for unit in self.call(request).get("organizationUnits", [])})

    def read_group(self, key: str) -> dict | None:
        try:
            return self.call(self.groups.get(groupKey=key, fields=GROUP_FIELDS))
        except TargetError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                return None
            raise

    def read_by_id(
        self, user_ids: Iterable[str], group_ids: Iterable[str]
    ) -> tuple[dict[str, GoogleUser | None], dict[str, dict | None]]:
        """Accounts and groups by Google id, read in batches; None for one that no longer exists."""
        requests = {
            f"user-{key}": self.users.get(userKey=key, projection="basic", fields=USER_FIELDS) for key in set(user_ids)
        }
        requests |= {f"group-{key}": self.groups.get(groupKey=key, fields=GROUP_FIELDS) for key in set(group_ids)}
        found: dict[str, dict | None] = {}
        for name, outcome in self.batch(requests).items():
            if (error := outcome.error) is not None and error.kind is not ErrorKind.NOT_FOUND:
                raise error.named(f"cannot read {name}: {error}")
            found[name] = outcome.response if error is None else None
        users = {
            name.removeprefix("user-"): GoogleUser.from_api(value) if value else None
            for name, value in found.items()
            if name.startswith("user-")
        }
        groups = {name.removeprefix("group-"): value for name, value in found.items() if name.startswith("group-")}
        return users, groups

    def read_members_of(self, group_key: str) -> dict[str, str] | None:
        """One group's members (address → id), None when the group no longer exists."""
        try:
            return self.read_members([group_key])[group_key]
        except TargetError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                return None
            raise

    def prefetch_users(self, keys: Iterable[str]) -> None:
        """Read these accounts (addresses or ids) ahead, in batches, for the read_user calls of a batch of pushes.
        One that cannot be read now is left to its own read_user (which retries, or says why)."""
        requests = {
            key: self.users.get(userKey=key, projection=self._projection, fields=self._user_fields)
            for key in sorted(set(keys))
        }
        for key, outcome in self.batch(requests).items():  # retried there as any read is: its error stands for this run
            error = outcome.error
            if error is None:
                self._accounts[key.lower()] = GoogleUser.from_api(outcome.response or {})
            else:
                self._accounts[key.lower()] = None if error.kind is ErrorKind.NOT_FOUND else error

    def prefetched(self, key: str) -> GoogleUser | None:
        """An account read ahead (None: not found, not read, or its read failed)."""
        found = self._accounts.get(key.lower())
        return found if isinstance(found, GoogleUser) else None

    def read_user(self, key: str) -> GoogleUser | None:
        if key.lower() in self._accounts:
            found = self._accounts[key.lower()]
            if isinstance(found, TargetError):
                raise found
            return found
        try:
            return GoogleUser.from_api(
                self.call(self.users.get(userKey=key, projection=self._projection, fields=self._user_fields))
            )
        except TargetError as error:
            if error.kind is ErrorKind.NOT_FOUND:
                return None
            raise


def list_failed(what: str, error: TargetError) -> TargetError:
    """A list read from Google (users, groups, licence assignments) that failed after its retries, named, with what to do."""
    if error.kind in (ErrorKind.TRANSIENT, ErrorKind.QUOTA, ErrorKind.UNREACHABLE):
        fix = "Google kept failing after every retry; nothing was changed: run it again later"
    elif error.kind is ErrorKind.DENIED:
        fix = "run 'google-sync check' to see which scope or delegation is missing"
    else:
        fix = "nothing was changed"
    return error.named(f"cannot read Google's {what}: {error}; {fix}")


def _check_new_token(token: str, seen: set[str], what: str) -> None:
    """A list that hands out a page token it gave before would never end: its read is refused, not cut short."""
    if token in seen:
        raise TargetError(f"cannot read the {what} whole: Google sent the same page token twice")
    seen.add(token)


def _customer_of(users: list[GoogleUser]) -> str:
    return next((user.customer_id for user in users if user.customer_id), "")


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
        # Which scopes lack delegation, when that is the refusal (a refresh token's scopes are fixed at consent).
        delegated = isinstance(credentials, service_account.Credentials) and "unauthorized_client" in refusal
        missing = [scope for scope in scopes if delegated and try_token(credentials.with_scopes([scope]))]
        detail = token_error_message(RuntimeError(refusal), google, client_id, scopes)
        if missing:
            detail += f" (not delegated: {', '.join(missing)})"
        return [Check("token", False, detail)]
    identity = getattr(credentials, "service_account_email", "an administrator's OAuth grant")
    target = GoogleTarget(
        google, settings.sync, credentials=credentials, backoff=Backoff(2), scopes=scopes, licenses=settings.licenses
    )
    checks = [Check("token", True, f"{identity} acting as {google.admin_email}")]
    first_group: dict = {}

    def read(request) -> str:
        target.call(request)
        return "read allowed"

    def list_groups() -> str:
        page = target.call(target.groups.list(domain=google.domain, maxResults=1, fields="groups(id,email)"))
        first_group.update((page.get("groups") or [{}])[0])
        return "read allowed"

    def customer() -> str:
        page = target.call(target.users.list(domain=google.domain, maxResults=1, fields="users(customerId)"))
        return (page.get("users") or [{}])[0].get("customerId", "")

    def on_a_group(request) -> str:
        if SCOPES[1] not in passed:
            raise NotTried(f"not tried: the groups could not be listed (see {SCOPES[1]})")
        return (
            read(request(first_group))
            if first_group
            else "no group in Google yet to try it on; the token includes the scope"
        )

    reads = {
        SCOPES[0]: lambda: read(target.users.list(domain=google.domain, maxResults=1, fields="users(id)")),
        SCOPES[1]: list_groups,
        SCOPES[2]: lambda: on_a_group(
            lambda group: target.members.list(groupKey=group["id"], maxResults=1, fields="members(email)")
        ),
        ORGUNIT_SCOPE: lambda: read(
            target.orgunits.list(customerId="my_customer", type="children", fields="organizationUnits(orgUnitPath)")
        ),
        SCHEMA_SCOPE: lambda: f"{len(target.read_custom_fields())} custom fields",
        LICENSING_SCOPE: lambda: _licences_found(target.read_licences(customer()), settings.licenses),
        DOMAIN_SCOPE: lambda: _domains_found(target.read_domains()),
        GROUP_SETTINGS_SCOPE: lambda: on_a_group(
            lambda group: target.group_settings.get(groupUniqueId=group["email"], fields="email")
        ),
        SECURITY_SCOPE: lambda: read(target.tokens.list(userKey=google.admin_email, fields="items(clientId)")),
        DATATRANSFER_SCOPE: lambda: _transfer_applications_found(target, customer(), settings),
    }
    passed: set[str] = set()
    for scope in scopes:
        try:
            checks.append(Check(scope, True, reads[scope]()))
            passed.add(scope)
        except NotTried as reason:
            checks.append(Check(scope, False, str(reason)))
        except TargetError as error:
            checks.append(Check(scope, False, _scope_advice(error, client_id)))
    if settings.custom_attributes and all(check.ok for check in checks if check.name == SCHEMA_SCOPE):
        checks.extend(_custom_attribute_checks(settings, target.read_custom_fields()))
    return checks


class NotTried(Exception):
    """A scope check that needs what an earlier one failed to read: a FAIL, never a PASS, and no advice of its own."""


def _scope_advice(error: TargetError, client_id: str) -> str:
    """Only a refusal is about delegation; a lost or failed answer says what it says."""
    if error.kind is ErrorKind.DENIED:
        return f"{error}: delegate this scope to client ID {client_id}"
    return str(error)


def _licences_found(read: dict, wanted: LicenseSettings) -> str:
    found = f"{len(read['licensed'])} users hold {wanted.product} {wanted.sku}"
    if read["licensed_elsewhere"]:
        found += f"; {len(read['licensed_elsewhere'])} another SKU of {wanted.product}"
    return found


def _transfer_applications_found(target: GoogleTarget, customer_id: str, settings: Settings) -> str:
    """Which applications the account can transfer, and whether those [offboarding] names are among them."""
    page = target.call(target.transfer_applications.list(customerId=customer_id, fields="applications(id,name)"))
    offered = {app["id"]: app.get("name", app["id"]) for app in page.get("applications", [])}
    missing = [name for name in settings.offboarding.transfer_applications if APPLICATION_IDS[name] not in offered]
    if missing:
        raise TargetError(
            f"the account offers no transfer of {', '.join(missing)} (offered: {', '.join(offered.values()) or 'none'})"
        )
    return f"transfers allowed: {', '.join(sorted(offered.values()))}"


def _domains_found(read: dict) -> str:
    found = f"domains: {', '.join(sorted(read['domains'] | read['domain_aliases']))}"
    if read["unverified_domains"]:
        found += f"; not verified (no address is made there until verified in the Admin console): {', '.join(sorted(read['unverified_domains']))}"
    return found


def _custom_attribute_checks(settings: Settings, fields: tuple[CustomField, ...]) -> list[Check]:
    """Each [custom_attributes] line: the field it names in Google, with its type, or the fields there are."""
    known = {spec.key.lower(): spec for spec in fields}
    checks = []
    for key, attribute in settings.custom_attributes:
        spec = known.get(key.lower())
        if spec:
            detail = f"{attribute} → {spec.key} ({spec.kind}{', multi-valued' if spec.multi else ''})"
        else:
            offered = ", ".join(sorted(spec.key for spec in fields)) or "none: the account has no custom schema"
            detail = f"no field {key} in Google; create it in Google Admin or name one of: {offered}"
        checks.append(Check(f"[custom_attributes] {key}", spec is not None, detail))
    return checks


def offered_custom_fields(settings: Settings) -> tuple[tuple[CustomField, ...], str]:
    """The account's custom fields, for the console to offer; or none and why they cannot be listed. The schema
    scope is asked for even before any field is mapped: without it, Google refuses and the reason says so."""
    scopes = tuple(dict.fromkeys((*required_scopes(settings), SCHEMA_SCOPE)))
    try:
        return GoogleTarget(settings.google, settings.sync, backoff=Backoff(1), scopes=scopes).read_custom_fields(), ""
    except GoogleSyncError as error:
        return (), str(error)


def try_token(credentials) -> str:
    """'' when a token is granted, else Google's refusal."""
    try:
        credentials.refresh(google_auth_httplib2.Request(httplib2.Http(timeout=30)))
        return ""
    except (GoogleAuthError, *TRANSPORT_ERRORS) as error:
        return str(error)
