"""JSON written as it is produced: a plan of 100,000 users is never held whole as text or as a list of dicts.

The standard library already streams: ``json.dump`` with an indent encodes piece by piece and writes each
piece to the file. What it needs is a list that yields its items only when asked: ``lazy_list`` gives one.
(A package such as json-stream would do the same at the cost of a compiled tokenizer this never uses.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import chain
from typing import IO, Any


class _LazyList(list):
    """A list the JSON encoder walks item by item; its items are made as it goes, never all kept."""

    def __init__(self, items: Iterable[Any]):
        super().__init__()
        self._items = items

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:  # only asked whether it is empty: it is not (lazy_list hands out [] for that)
        return 1


def lazy_list(items: Iterable[Any]) -> list:
    """``items`` as a list for ``json.dump`` that is encoded as they come (an empty one is a plain [])."""
    items = iter(items)
    first = next(items, _NOTHING)
    return [] if first is _NOTHING else _LazyList(chain((first,), items))


_NOTHING = object()


def write(stream: IO[str], value: Any) -> None:
    """``value`` as indented JSON on ``stream``, lazy lists included, then a newline (as ``print`` would)."""
    json.dump(value, stream, indent=2, ensure_ascii=False)
    stream.write("\n")
