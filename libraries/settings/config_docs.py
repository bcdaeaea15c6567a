"""The README's configuration reference and deploy/google_sync.conf.example, written from the schema.

Regenerate both after changing ``config_schema`` (tests fail until they match):
    python -m app_google_sync.libraries.settings.config_docs README.md deploy/google_sync.conf.example
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from .config_schema import SECTIONS, Key, Section

README_HEADING = "## Configuration reference"
README_INTRO = (
    "An INI file, UTF-8. Keys not given take the defaults shown, which fit a ClearOS directory. Every value is "
    "checked when the file is read (by the command line, the worker and the console alike): a bad one stops "
    "with one line naming the file, the section, the key and the fix. An unknown section or key is reported, "
    "with the nearest known name, by `google-sync check` and in the log. A duration is written `90` or `90s` "
    "(seconds), `30m`, `24h` or `7d`."
)
EXAMPLE_HEADER = """\
# /etc/clearos/google_sync.conf: Google Apps Synchronization (google-sync and the web console)
#
# Keep this file mode 0600, owner root: it may hold the LDAP bind password.
# Every key below shows its default; a key left out takes that default, which fits ClearOS.
# The web console edits the keys whose comment names one of its pages, in place, keeping your comments.
# Check it with:  google-sync --config /etc/clearos/google_sync.conf check
#
# This file is written from libraries/settings/config_schema.py (python -m app_google_sync.libraries.settings.config_docs)."""


def readme_default(key: Key) -> str:
    if key.shown_default:
        return key.shown_default
    if key.required:
        return "*(required)*"
    return f"`{key.default}`" if key.default else "*(empty)*"


def _page(section: Section) -> str:
    """The console page that edits every key of the section, if one does."""
    pages = {key.console for key in section.keys}
    return pages.pop() if len(pages) == 1 else ""


def _meaning(key: Key, section: Section) -> str:
    return key.help + (f". Set on the console's {key.console} page" if key.console and not _page(section) else "")


def _help(section: Section) -> str:
    return section.help + (f" The console's {_page(section)} page edits them." if _page(section) else "")


def _paragraph(text: str) -> list[str]:
    return textwrap.wrap(text, width=105, break_on_hyphens=False, break_long_words=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def readme_reference() -> str:
    """The README's "Configuration reference" section, heading included."""
    lines = [README_HEADING, "", *_paragraph(README_INTRO)]
    for section in SECTIONS:
        lines += ["", f"### `[{section.name}]`"]
        if section.help:
            lines += ["", *_paragraph(_help(section))]
        if section.keys:
            lines += ["", f"| key | default | {section.column} |", "|---|---|---|"]
            lines += [
                f"| `{key.name}` | {_cell(readme_default(key))} | {_cell(_meaning(key, section))} |"
                for key in section.keys
            ]
    return "\n".join(lines) + "\n"


def _comment(text: str) -> list[str]:
    text = text.replace("`", "")
    return textwrap.wrap(
        text[:1].upper() + text[1:], width=100, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False
    )


def _example_key(key: Key, section: Section) -> list[str]:
    value = key.default if key.example is None else key.example
    line = f"{key.name} = {value}" if value else f"{key.name} ="
    label = f"{section.column}: " if section.column != "meaning" else ""
    return ["", *_comment(label + _meaning(key, section) + "."), f"# {line}" if key.commented else line]


def _example_section(section: Section) -> list[str]:
    if not section.keys:  # its keys are the administrator's names: shown commented out
        return ["", f"# [{section.name}]", *_comment(_help(section)), f"# {section.example}"]
    lines = ["", f"[{section.name}]"] + (_comment(_help(section)) if section.help else [])
    for key in section.keys:
        lines += _example_key(key, section)
    return lines


def example_config() -> str:
    lines = [EXAMPLE_HEADER]
    for section in SECTIONS:
        lines += _example_section(section)
    return "\n".join(lines) + "\n"


def write_readme(path: str) -> None:
    text = Path(path).read_text(encoding="utf-8")
    before, _, rest = text.partition(README_HEADING)
    after = rest.partition("\n## ")[2]
    Path(path).write_text(before + readme_reference() + "\n## " + after, encoding="utf-8")


def main(argv: list[str]) -> int:
    readme, example = argv
    write_readme(readme)
    Path(example).write_text(example_config(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
