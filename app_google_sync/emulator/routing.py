"""The route table of the Directory API: path templates, scopes, query parameters."""

import re
import urllib.parse
from dataclasses import dataclass, field

from .errors import ApiError

SCOPE_PREFIX = "https://www.googleapis.com/auth/admin.directory."

# Scope family -> (scopes that allow writing, extra scopes that allow reading).
SCOPE_FAMILIES = {
    "user": (("user",), ("user.readonly",)),
    "user.alias": (("user", "user.alias"), ("user.readonly", "user.alias.readonly")),
    "group": (("group",), ("group.readonly",)),
    "member": (("group", "group.member"), ("group.readonly", "group.member.readonly")),
    "orgunit": (("orgunit",), ("orgunit.readonly",)),
}

# System parameters Google accepts on every method.
GLOBAL_PARAMS = {"alt", "fields", "prettyPrint", "quotaUser", "key", "$.xgafv", "access_token",
                 "oauth_token", "callback", "uploadType", "upload_protocol", "userIp"}


@dataclass
class Request:
    """What a handler gets: the account, path parameters, query and parsed JSON body."""
    directory: object
    method: str
    params: dict
    query: dict
    body: object = None


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: object
    family: str
    params: frozenset
    schema: str = None
    body: bool = False

    def scopes(self):
        write, read = SCOPE_FAMILIES[self.family]
        names = write + read if self.method == "GET" else write
        return {SCOPE_PREFIX + name for name in names}


ROUTES = []


def route(method, template, family, params=(), schema=None, body=False):
    """Register a handler for `template` ('users/{userKey}', '{+path}' may hold slashes)."""
    def to_group(match):
        name = match.group(1)
        return "(?P<%s>.+)" % name[1:] if name.startswith("+") else "(?P<%s>[^/]+)" % name
    pattern = re.compile("^" + re.sub(r"\{(\+?\w+)\}", to_group, template) + "$")

    def register(handler):
        ROUTES.append(Route(method, pattern, handler, family, frozenset(params), schema, body))
        return handler
    return register


def match(method, path):
    """The route and decoded path parameters for `path` (relative to admin/directory/v1/)."""
    for candidate in ROUTES:
        found = candidate.pattern.match(path)
        if found and candidate.method == method:
            params = {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
            return candidate, params
    raise ApiError(404, "notFound", "Not Found")


def check_params(route_, query):
    for name in query:
        if name not in GLOBAL_PARAMS and name not in route_.params:
            raise ApiError(
                400, "invalid",
                "Invalid JSON payload received. Unknown name \"%s\": Cannot bind query parameter. "
                "Field '%s' could not be found in request message." % (name, name))
