"""List parameters shared by every list method: maxResults, pageToken, enums."""

import base64
import contextvars
import json

from .errors import invalid

# How thin the pages of the call being served are (a faults.ThinPages, or None): set by the server per call.
THIN = contextvars.ContextVar("thin_pages", default=None)
EMPTY_MARK = "empty-page-served"


def max_results(query, default, maximum):
    raw = query.get("maxResults")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid("Invalid value at 'max_results' (TYPE_INT32), \"%s\"" % raw) from None
    if not 1 <= value <= maximum:
        raise invalid("Invalid value '%s'. Values must be within the range: [1, %d]" % (raw, maximum))
    return value


def enum(query, name, allowed, default=None):
    value = query.get(name, default)
    if value is not None and value not in allowed:
        raise invalid("Invalid value for %s: %s" % (name, value))
    return value


def page(items, key, limit, token, descending=False):
    """One page of `items` ordered by `key` (unique), and the token of the next page.

    The token remembers the last key served, not an offset, so a page stays correct
    when items are added or removed between calls. With thin pages (THIN), a page holds
    at most `cap` items, and each page of items may follow an empty page with a token.
    """
    thin = THIN.get()
    if thin is not None and thin.empty:
        marked = _decode(token) if token else None
        if not (marked and marked[0] == EMPTY_MARK):
            return [], _encode([EMPTY_MARK, token or ""])
        token = marked[1]
    if thin is not None and thin.cap:
        limit = min(limit, thin.cap)
    ordered = sorted(items, key=key, reverse=descending)
    if token:
        after = _decode(token)
        ordered = [item for item in ordered if (list(key(item)) < after if descending else list(key(item)) > after)]
    chunk = ordered[:limit]
    next_token = _encode(key(chunk[-1])) if len(ordered) > limit else None
    return chunk, next_token


def _encode(key):
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode(token):
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        raise invalid("Invalid Input: pageToken") from None
    if not isinstance(value, list):
        raise invalid("Invalid Input: pageToken")
    return value
