"""The route tables of the emulated APIs: path templates, scopes, query parameters.

Two APIs share the emulator: the Directory API ("directory", under admin/directory/v1/) and
the Groups Settings API ("groupssettings", under groups/v1/groups/). Paths are matched
relative to their API's prefix.
"""

import re
import urllib.parse
from dataclasses import dataclass, field

from .errors import ApiError
from .propagation import Propagation

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
_DIRECTORY = "admin.directory."

# Scope family -> (scopes that allow writing, extra scopes that allow reading).
SCOPE_FAMILIES = {
    "user": ((_DIRECTORY + "user",), (_DIRECTORY + "user.readonly",)),
    "user.alias": (
        (_DIRECTORY + "user", _DIRECTORY + "user.alias"),
        (_DIRECTORY + "user.readonly", _DIRECTORY + "user.alias.readonly"),
    ),
    "group": ((_DIRECTORY + "group",), (_DIRECTORY + "group.readonly",)),
    "member": (
        (_DIRECTORY + "group", _DIRECTORY + "group.member"),
        (_DIRECTORY + "group.readonly", _DIRECTORY + "group.member.readonly"),
    ),
    "orgunit": ((_DIRECTORY + "orgunit",), (_DIRECTORY + "orgunit.readonly",)),
    "domain": ((_DIRECTORY + "domain",), (_DIRECTORY + "domain.readonly",)),
    "userschema": ((_DIRECTORY + "userschema",), (_DIRECTORY + "userschema.readonly",)),
    "groupssettings": (("apps.groups.settings",), ()),
    "licensing": (("apps.licensing",), ()),
    "user.security": ((_DIRECTORY + "user.security",), ()),
    "datatransfer": (("admin.datatransfer",), ("admin.datatransfer.readonly",)),
}

# API name -> (path prefix, discovery document of its schemas).
APIS = {
    "directory": ("/admin/directory/v1/", "admin.directory_v1.json"),
    "groupssettings": ("/groups/v1/groups/", "groupssettings.v1.json"),
    "licensing": ("/apps/licensing/v1/", "licensing.v1.json"),
    "datatransfer": ("/admin/datatransfer/v1/", "admin.datatransfer_v1.json"),
}

# System parameters Google accepts on every method.
GLOBAL_PARAMS = {
    "alt",
    "fields",
    "prettyPrint",
    "quotaUser",
    "key",
    "$.xgafv",
    "access_token",
    "oauth_token",
    "callback",
    "uploadType",
    "upload_protocol",
    "userIp",
}


@dataclass
class Request:
    """What a handler gets: the account, path parameters, query and parsed JSON body.

    `lag` is the emulator's Propagation; seeding gets a fresh one without delay, so seeded
    records are settled at once.
    """

    directory: object
    method: str
    params: dict
    query: dict
    body: object = None
    lag: Propagation = field(default_factory=Propagation)


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: object
    family: str
    params: frozenset
    schema: str = None
    body: bool = False
    api: str = "directory"
    render: object = None  # render(payload, query) -> (headers, bytes) or None for JSON

    def scopes(self):
        write, read = SCOPE_FAMILIES[self.family]
        names = write + read if self.method == "GET" else write
        return {SCOPE_PREFIX + name for name in names}


ROUTES = []


def route(method, template, family, params=(), schema=None, body=False, api="directory", render=None):
    """Register a handler for `template` ('users/{userKey}', '{+path}' may hold slashes)."""

    def to_group(match):
        name = match.group(1)
        return "(?P<%s>.+)" % name[1:] if name.startswith("+") else "(?P<%s>[^/]+)" % name

    pattern = re.compile("^" + re.sub(r"\{(\+?\w+)\}", to_group, template) + "$")

    def register(handler):
        ROUTES.append(Route(method, pattern, handler, family, frozenset(params), schema, body, api, render))
        return handler

    return register


def api_of(path):
    """(API name, path relative to its prefix) for a request path, or (None, path)."""
    for name, (prefix, _) in APIS.items():
        if path.startswith(prefix):
            return name, path[len(prefix) :]
    return None, path


def match(method, path, api="directory"):
    """The route and decoded path parameters for `path` (relative to the API's prefix)."""
    for candidate in ROUTES:
        if candidate.api != api:
            continue
        found = candidate.pattern.match(path)
        if found and candidate.method == method:
            params = {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
            return candidate, params
    raise ApiError(404, "notFound", "Not Found")


def check_params(route_, query):
    for name in query:
        if name not in GLOBAL_PARAMS and name not in route_.params:
            raise ApiError(
                400,
                "invalid",
                'Invalid JSON payload received. Unknown name "%s": Cannot bind query parameter. '
                "Field '%s' could not be found in request message." % (name, name),
            )
