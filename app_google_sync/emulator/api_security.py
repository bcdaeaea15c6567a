"""A user's account security (Directory API): users.signOut, tokens.* (the OAuth tokens of apps the user connected,
per clientId) and asps.* (application-specific passwords). Every method needs the scope
admin.directory.user.security, reads included (Google offers no read-only scope for them).

Kept per user id in ``directory.security``: {"tokens": [...], "asps": [...], "signOuts": n}. Choice where Google
leaves room: these calls refuse a suspended user with 412 conditionNotMet ("User is suspended"), as GAM reports for
a suspended user's verification codes, so that a client doing them after the suspension is caught here.
"""

from . import errors
from .routing import route
from .state import now_rfc3339


def security(directory, user):
    return directory.security.setdefault(user["id"], {"tokens": [], "asps": [], "signOuts": 0})


def _active(req):
    user = req.directory.user(req.params["userKey"])
    req.lag.check_user(user)
    if user.get("suspended"):
        raise errors.ApiError(412, "conditionNotMet", "User is suspended.")
    return user


def _token(user, record):
    return {
        "kind": "admin#directory#token",
        "clientId": record["clientId"],
        "displayText": record["displayText"],
        "scopes": list(record.get("scopes", [])),
        "anonymous": False,
        "nativeApp": record.get("nativeApp", False),
        "userKey": user["id"],
        "etag": '"%s-%s"' % (user["id"], record["clientId"]),
    }


def _asp(user, record):
    return {
        "kind": "admin#directory#asp",
        "codeId": record["codeId"],
        "name": record["name"],
        "creationTime": record["creationTime"],
        "lastTimeUsed": record.get("lastTimeUsed", "0"),
        "userKey": user["id"],
        "etag": '"%s-%s"' % (user["id"], record["codeId"]),
    }


@route("POST", "users/{userKey}/signOut", "user.security")
def sign_out(req):
    user = _active(req)
    security(req.directory, user)["signOuts"] += 1
    req.directory.changed = True
    return 204, None


@route("GET", "users/{userKey}/tokens", "user.security", schema="Tokens")
def list_tokens(req):
    user = _active(req)
    items = [_token(user, record) for record in security(req.directory, user)["tokens"]]
    return 200, {
        "kind": "admin#directory#tokenList",
        "etag": '"%d"' % len(items),
        **({"items": items} if items else {}),
    }


def _find(records, key, value, what):
    found = next((record for record in records if str(record[key]) == str(value)), None)
    if found is None:
        raise errors.ApiError(404, "notFound", "%s not found" % what)
    return found


@route("GET", "users/{userKey}/tokens/{clientId}", "user.security", schema="Token")
def get_token(req):
    user = _active(req)
    return 200, _token(
        user, _find(security(req.directory, user)["tokens"], "clientId", req.params["clientId"], "Token")
    )


@route("DELETE", "users/{userKey}/tokens/{clientId}", "user.security")
def delete_token(req):
    user = _active(req)
    tokens = security(req.directory, user)["tokens"]
    tokens.remove(_find(tokens, "clientId", req.params["clientId"], "Token"))
    req.directory.changed = True
    return 204, None


@route("GET", "users/{userKey}/asps", "user.security", schema="Asps")
def list_asps(req):
    user = _active(req)
    items = [_asp(user, record) for record in security(req.directory, user)["asps"]]
    return 200, {"kind": "admin#directory#aspList", "etag": '"%d"' % len(items), **({"items": items} if items else {})}


@route("GET", "users/{userKey}/asps/{codeId}", "user.security", schema="Asp")
def get_asp(req):
    user = _active(req)
    return 200, _asp(
        user,
        _find(security(req.directory, user)["asps"], "codeId", req.params["codeId"], "Application-specific password"),
    )


@route("DELETE", "users/{userKey}/asps/{codeId}", "user.security")
def delete_asp(req):
    user = _active(req)
    if not req.params["codeId"].lstrip("-").isdigit():
        raise errors.invalid("Invalid value for codeId: %s" % req.params["codeId"])
    asps = security(req.directory, user)["asps"]
    asps.remove(_find(asps, "codeId", req.params["codeId"], "Application-specific password"))
    req.directory.changed = True
    return 204, None


def add_token(directory, user, client_id, display_text, scopes=()):
    security(directory, user)["tokens"].append(
        {"clientId": client_id, "displayText": display_text, "scopes": list(scopes)}
    )
    directory.changed = True


def add_asp(directory, user, name):
    records = security(directory, user)["asps"]
    code = max((record["codeId"] for record in records), default=0) + 1
    records.append({"codeId": code, "name": name, "creationTime": now_rfc3339()})
    directory.changed = True
    return code
