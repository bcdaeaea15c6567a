"""Helpers shared by the emulator tests (fixtures live in conftest.py)."""

import functools
import html
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import google_auth_httplib2
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

SCOPE = "https://www.googleapis.com/auth/"
USER_SCOPE = SCOPE + "admin.directory.user"
GROUP_SCOPE = SCOPE + "admin.directory.group"
MEMBER_SCOPE = SCOPE + "admin.directory.group.member"
ORGUNIT_SCOPE = SCOPE + "admin.directory.orgunit"
ALL_SCOPES = [USER_SCOPE, GROUP_SCOPE, MEMBER_SCOPE, ORGUNIT_SCOPE]
ADMIN = "admin@example.com"


def credentials(key, scopes=None, subject=ADMIN):
    """Delegated credentials for `key`, as an application builds them."""
    base = _key_credentials(key["private_key_id"], key["private_key"], key["client_email"])
    return (
        base.with_token_uri(key["token_uri"])
        .with_scopes(ALL_SCOPES if scopes is None else scopes)
        .with_subject(subject)
    )


@functools.lru_cache(maxsize=8)
def _key_credentials(key_id, private_key, client_email):
    # Loading an RSA key takes ~25 ms; the with_* copies below share the signer.
    return service_account.Credentials.from_service_account_info(
        {
            "private_key_id": key_id,
            "private_key": private_key,
            "client_email": client_email,
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


class FakeClock:
    """The emulator's `clock`, moved by the test instead of by waiting."""

    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def directory(emu, creds):
    return build(
        "admin",
        "directory_v1",
        credentials=creds,
        client_options={"api_endpoint": emu.base_url},
        static_discovery=True,
        cache_discovery=False,
    )


class Batch:
    """A BatchHttpRequest at the emulator's batch URL that collects (response, error) by request id."""

    def __init__(self, emu, creds):
        self.results = {}
        self._http = google_auth_httplib2.AuthorizedHttp(creds)
        self._batch = BatchHttpRequest(callback=self._collect, batch_uri=emu.base_url + "batch/admin/directory_v1")

    def _collect(self, request_id, response, exception):
        self.results[request_id] = (response, exception)

    def add(self, request, request_id=None):
        self._batch.add(request, request_id=request_id)

    def execute(self):
        self._batch.execute(http=self._http)
        return self.results


def error_of(exc_info_or_error):
    """(status, reason, message) of an HttpError (or of pytest's ExceptionInfo holding one)."""
    error = getattr(exc_info_or_error, "value", exc_info_or_error)
    assert isinstance(error, HttpError), error
    body = json.loads(error.content)["error"]
    return error.resp.status, body["errors"][0]["reason"], body["message"]


def user_body(email, given="Ada", family="Lovelace", password="correct horse", **extra):
    return dict(extra, primaryEmail=email, name={"givenName": given, "familyName": family}, password=password)


def raw(method, url, body=None, headers=None):
    """A plain HTTP call (no Google client): returns (status, headers, decoded JSON or None)."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            status, answer_headers, content = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, content = error.code, error.headers, error.read()
    return status, answer_headers, json.loads(content) if content else None


SETTINGS_SCOPE = SCOPE + "apps.groups.settings"


def groups_settings(emu, creds):
    """The Groups Settings API client, as DESIGN.md §5 builds it (service path dropped)."""
    return build(
        "groupssettings",
        "v1",
        credentials=creds,
        client_options={"api_endpoint": emu.base_url + "groups/v1/groups/"},
        static_discovery=True,
        cache_discovery=False,
    )


def http_call(method, url, body=None, headers=None):
    """One plain HTTP request that does not follow redirects: (status, headers, text)."""
    split = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
    try:
        target = split.path + ("?" + split.query if split.query else "")
        connection.request(method, target, body, headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode("utf-8")
    finally:
        connection.close()


def sign_in(auth_url, email, password, action="allow"):
    """Drive the consent page as a browser would: open it, fill it in, submit it.

    Returns (status, Location header or None, page text) of the form submission.
    """
    status, _, page = http_call("GET", auth_url)
    assert status == 200, page
    form = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
    request_id = re.search(r'name="request" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode(
        {"request": html.unescape(request_id), "email": email, "password": password, "action": action}
    )
    split = urllib.parse.urlsplit(auth_url)
    target = "%s://%s%s" % (split.scheme, split.netloc, html.unescape(form))
    status, headers, text = http_call("POST", target, body, {"Content-Type": "application/x-www-form-urlencoded"})
    return status, headers.get("Location"), text


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
