"""Long lists at a real directory's size: filters, search and pages computed on the server, and the notices
grouped by code. No Flask: the console's views and the command line both use it.

A first synchronization of 10,000 users is some 20,000 changes: pages show a summary and one page of rows;
the rest is a filter, a search or a download away.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ..core.codes import NoticeCode

PER_PAGE = 100
EXAMPLES = 5  # examples shown per group of notices

# What each notice code means, as a heading over its group.
CODE_LABELS: dict[str, str] = {
    NoticeCode.USER_INVALID: "Users skipped: a name or address Google refuses",
    NoticeCode.ADDRESS_SHARED: "Users skipped: an address shared by several users",
    NoticeCode.ACCOUNT_TAKEN: "Users skipped: their Google account belongs to another user",
    NoticeCode.PASSWORD_NOT_SYNCED: "Passwords that cannot go to Google",
    NoticeCode.ALIASES_OUTSIDE_DOMAIN: "Aliases outside the domain",
    NoticeCode.RENAME_BLOCKED: "Renames blocked by another account",
    NoticeCode.USER_LOCKED: "Users locked in the directory: not created",
    NoticeCode.SUSPENDED_IN_GOOGLE: "Suspended in Google by someone else",
    NoticeCode.NOT_MANAGED: "Google accounts this tool does not manage",
    NoticeCode.ADMIN_PROTECTED: "Administrators left active",
    NoticeCode.GOOGLE_ONLY: "Accounts only in Google",
    NoticeCode.ADMIN_WITHOUT_LOCAL_USER: "Administrators without a local user",
    NoticeCode.ADMIN_LOCAL_USER_LOCKED: "Administrators whose local user is locked",
    NoticeCode.CUSTOM_FIELD_UNKNOWN: "Custom attributes Google does not have",
    NoticeCode.CUSTOM_VALUE_INVALID: "Custom attribute values refused",
    NoticeCode.MANAGER_NOT_SYNCHRONIZED: "Managers not synchronized",
    NoticeCode.PHOTO_REJECTED: "Photos refused",
    NoticeCode.GROUP_INVALID: "Groups skipped: a name or address Google refuses",
    NoticeCode.GROUP_UNSYNCHRONIZED: "Groups no longer synchronized",
    NoticeCode.NESTED_CYCLE: "Nested groups in a cycle",
    NoticeCode.NESTED_NOT_SYNCHRONIZED: "Nested groups not synchronized",
    NoticeCode.GROUP_NOT_IN_GOOGLE_YET: "Groups not in Google yet",
    NoticeCode.MEMBERS_NOT_IN_SCOPE: "Groups with members whose Google Apps option is off",
    NoticeCode.MEMBERS_LOCKED: "Groups with locked members (each user is listed under its own code)",
    NoticeCode.MEMBERS_SKIPPED: "Groups with skipped members (each user's problem is listed under its own code)",
    NoticeCode.MEMBERS_UNKNOWN: "Groups with members that name no user",
}


def code_label(code: str) -> str:
    return CODE_LABELS.get(code, code or "Other")


@dataclass(frozen=True)
class Page:
    """One page of a filtered list, and where it sits in the whole."""

    rows: list
    total: int  # rows matching the filter
    number: int  # 1-based
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.number * self.per_page)


def page_of_list(rows: list, number: int, per_page: int = PER_PAGE) -> Page:
    """The ``number``th page of ``rows``, clamped to the pages there are."""
    pages = max(1, -(-len(rows) // per_page))
    number = min(max(1, number), pages)
    return Page(rows[(number - 1) * per_page : number * per_page], len(rows), number, per_page)


def matches(query: str, *texts: str) -> bool:
    """A case-insensitive substring search over an object's names (address, uid, group)."""
    needle = query.strip().lower()
    return not needle or any(needle in (text or "").lower() for text in texts)


@dataclass(frozen=True)
class NoticeGroup:
    code: str
    level: str
    count: int
    examples: tuple = ()

    @property
    def label(self) -> str:
        return code_label(self.code)


def group_notices(notices: Iterable, level: str | None = None, examples: int = EXAMPLES) -> list[NoticeGroup]:
    """Notices (objects with level, code, subject, message; or their dicts) grouped by code, the largest group first,
    each with a few examples."""
    counts: dict[str, int] = {}
    levels: dict[str, str] = {}
    kept: dict[str, list] = {}
    for notice in notices:
        notice_level, code = _get(notice, "level"), str(_get(notice, "code") or "")
        if level is not None and notice_level != level:
            continue
        counts[code] = counts.get(code, 0) + 1
        levels.setdefault(code, notice_level)
        if len(kept.setdefault(code, [])) < examples:
            kept[code].append(notice)
    order = sorted(counts, key=lambda code: (levels[code] != "warning", -counts[code], code))
    return [NoticeGroup(code, levels[code], counts[code], tuple(kept[code])) for code in order]


def _get(item, name: str):
    if isinstance(item, dict):
        return item.get({"subject": "object"}.get(name, name), item.get(name))
    return getattr(item, name)


# -- exports: one row at a time, never the whole file in memory ---------------------------------------


def csv_lines(header: list[str], rows: Iterable[dict]) -> Iterator[str]:
    """CSV text, a line at a time (the header first): ``rows`` are read as the lines are sent."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(header)
    for row in rows:
        yield line([_cell(row.get(name)) for name in header])


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    # A cell that starts like a formula is opened as one by spreadsheets: a quote keeps it text.
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def json_lines(rows: Iterable[dict], before: str = "", after: str = "") -> Iterator[str]:
    """A JSON array written an element at a time: ``before`` + [ … ] + ``after`` (to wrap it in an object)."""
    yield before + "["
    separator = "\n"
    for row in rows:
        yield separator + json.dumps(row, ensure_ascii=False, default=str)
        separator = ",\n"
    yield "\n]" + after


def chunked(lines: Iterable[str], size: int = 64 * 1024) -> Iterator[bytes]:
    """Lines joined into chunks of about ``size`` bytes: a download is a few hundred writes, not one per row."""
    parts, held = [], 0
    for line in lines:
        data = line.encode("utf-8")
        parts.append(data)
        held += len(data)
        if held >= size:
            yield b"".join(parts)
            parts, held = [], 0
    if parts:
        yield b"".join(parts)


@dataclass
class Filters:
    """What a list is narrowed to, as the URL carries it."""

    q: str = ""
    action: str = ""
    outcome: str = ""  # ok | failed
    code: str = ""
    state: str = ""
    page: int = 1
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Callable[[str], str]) -> Filters:
        try:
            number = int(args("page") or 1)
        except ValueError:
            number = 1
        return cls(
            q=(args("q") or "").strip()[:200],
            action=args("action") or "",
            outcome=args("outcome") or "",
            code=args("code") or "",
            state=args("state") or "",
            page=max(1, number),
        )

    def url_args(self, **changes) -> dict:
        """The filters as URL arguments (empty ones left out), with ``changes``; a new filter starts at page 1."""
        values = {
            "q": self.q,
            "action": self.action,
            "outcome": self.outcome,
            "code": self.code,
            "state": self.state,
            "page": self.page,
        }
        if set(changes) - {"page"}:
            values["page"] = 1
        values.update(changes)
        return {name: value for name, value in values.items() if value and not (name == "page" and value == 1)}

    def args_with(self, values: dict, **changes) -> dict:
        """``url_args(**changes)`` and the route's own ``values`` in one mapping (templates allow one ``**``)."""
        return {**values, **self.url_args(**changes)}


# -- the command line's summary -----------------------------------------------------------------------


def summary_lines(plan, examples: int = 0) -> list[str]:
    """The verdict, the changes per action and the warnings per code (with ``examples`` of each): what a person reads
    first of a 20,000-change plan."""
    if plan.refusals:
        verdict = f"REFUSED by a safety limit: {len(plan.changes):,} changes, nothing is written without --force"
    elif plan.in_sync:
        verdict = "In step: nothing to change"
    else:
        verdict = f"{len(plan.changes):,} changes"
    lines = [f"Summary of plan {plan.checksum}: {verdict}."]
    for action, count in sorted(plan.counts().items()):
        lines.append(f"  {count:>8,}  {action}")
    for group in group_notices(plan.notices, level="warning", examples=examples):
        lines.append(f"  {group.count:>8,}  warning {group.code}: {group.label}")
        lines += [f"            e.g. {notice.subject}: {notice.message}" for notice in group.examples]
    return lines
