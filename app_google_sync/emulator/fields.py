"""Google's partial-response selector (`fields=`): parse, check against the schema, apply.

Syntax: `a,b/c,d(e,f/g),*` — a comma list of paths; `a/b` selects `b` inside `a`;
`a(b,c)` selects several fields inside `a`; `*` selects every field at its level.
Selecting inside a list applies the selection to each element.
"""

import functools
import json
import re
from importlib import resources

from .errors import ApiError

_TOKEN = re.compile(r"\s*(?:([A-Za-z0-9_$.@\-]+|\*)|([,/()]))")
_SCALAR = "scalar"
_OPEN = "open"


def invalid_selection(text):
    return ApiError(
        400, "invalidParameter", "Invalid field selection %s" % text, location="fields", locationType="parameter"
    )


def parse(selector):
    """Parse a selector into a tree {name: subtree or None (whole value)}."""
    tokens = _tokenize(selector)
    tree, pos = _selection(tokens, 0, selector)
    if pos != len(tokens):
        raise invalid_selection(selector)
    return tree


def _tokenize(selector):
    tokens, pos = [], 0
    text = selector.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise invalid_selection(selector)
        tokens.append(match.group(1) or match.group(2))
        pos = match.end()
    return tokens


def _selection(tokens, pos, selector):
    tree = {}
    while True:
        path = []
        while True:
            if pos >= len(tokens) or tokens[pos] in ",/()":
                raise invalid_selection(selector)
            path.append(tokens[pos])
            pos += 1
            if pos < len(tokens) and tokens[pos] == "/":
                pos += 1
                continue
            break
        sub = None
        if pos < len(tokens) and tokens[pos] == "(":
            sub, pos = _selection(tokens, pos + 1, selector)
            if pos >= len(tokens) or tokens[pos] != ")":
                raise invalid_selection(selector)
            pos += 1
        _insert(tree, path, sub)
        if pos < len(tokens) and tokens[pos] == ",":
            pos += 1
            continue
        return tree, pos


def _insert(tree, path, sub):
    """Add `path` with its sub-selection to `tree`; selecting a whole value wins."""
    for name in path[:-1]:
        node = tree.setdefault(name, {})
        if node is None:
            return
        tree = node
    last = path[-1]
    if last in tree and tree[last] is None:
        return
    if sub is None or last not in tree:
        tree[last] = sub
    else:
        for name, child in sub.items():
            _insert(tree[last], [name], child)


def apply(tree, value):
    """Keep only the selected parts of a JSON value."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [apply(tree, item) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for name, item in value.items():
        if name in tree:
            kept[name] = apply(tree[name], item)
        elif "*" in tree:
            kept[name] = apply(tree["*"], item)
    return kept


def check(tree, schema_name, selector, document="admin.directory_v1.json"):
    """Refuse names the response schema does not have, as Google does."""
    schemas = _schemas(document)
    if schemas is not None:
        _check_node(tree, schemas.get(schema_name, {}).get("properties"), schemas, selector)


def _check_node(tree, properties, schemas, selector):
    for name, sub in tree.items():
        if name == "*":
            continue
        if properties is None:
            continue
        if name not in properties:
            raise invalid_selection(name)
        kind = _resolve(properties[name], schemas)
        if sub is None or kind == _OPEN:
            continue
        if kind == _SCALAR:
            raise invalid_selection(selector)
        _check_node(sub, kind, schemas, selector)


def _resolve(prop, schemas):
    """The properties of a field's type, _SCALAR, or _OPEN when the schema does not say."""
    while prop.get("type") == "array" and "items" in prop:
        prop = prop["items"]
    if "$ref" in prop:
        return schemas.get(prop["$ref"], {}).get("properties", _OPEN)
    if "properties" in prop:
        return prop["properties"]
    if prop.get("type") in ("object", "any") or "additionalProperties" in prop:
        return _OPEN
    return _SCALAR


@functools.lru_cache(maxsize=4)
def _schemas(document):
    """The schemas of a discovery document that ships with google-api-python-client."""
    try:
        path = resources.files("googleapiclient") / "discovery_cache/documents" / document
        return json.loads(path.read_text(encoding="utf-8"))["schemas"]
    except (ImportError, OSError, ValueError, KeyError):
        return None
