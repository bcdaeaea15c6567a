"""deploy/: the worker's systemd unit and the example configuration, which must cover README's reference."""

import configparser
import re
from pathlib import Path

from app_google_sync.libraries.settings import config, config_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "google_sync.conf.example"


def readme_keys() -> dict[str, set[str]]:
    """Keys of the configuration reference tables, per section."""
    text = (ROOT / "README.md").read_text()
    reference = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    keys: dict[str, set[str]] = {}
    for section, body in re.findall(r"### `\[(\w+)\]`(.*?)(?=\n### |\Z)", reference, flags=re.S):
        for cell in re.findall(r"^\| (`[^|]+`(?: / `[^|]+`)*) \|", body, flags=re.M):
            keys.setdefault(section, set()).update(re.findall(r"`(\w+)`", cell))
    return keys


def test_the_example_configuration_is_valid():
    settings = config.load(str(EXAMPLE))
    assert settings.ldap.enabled_group == "google_apps_plugin"
    assert config_file.schedule(config_file.read(str(EXAMPLE))) == config_file.Schedule(False, 60)


def test_the_example_covers_every_key_of_the_readme():
    keys = readme_keys()
    assert {"ldap", "google", "sync"} <= set(keys), keys
    text = EXAMPLE.read_text()
    written = {section: set() for section in keys}
    current = None
    for line in text.splitlines():
        header = re.match(r"^#? ?\[(\w+)\]", line)
        if header:
            current = header.group(1)
            continue
        match = re.match(r"^#? ?(\w+) =", line)
        if match and current in written:
            written[current].add(match.group(1))
    for section, wanted in keys.items():
        assert wanted <= written[section], (section, wanted - written[section])


def test_every_key_is_explained_by_a_comment():
    lines = EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^\w+ =", line):
            before = lines[max(0, number - 12) : number]
            assert any(previous.startswith("#") for previous in before), line


def test_the_worker_unit_runs_the_worker_and_restarts_on_failure():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(ROOT / "deploy" / "google-sync-worker.service")
    assert unit.get("Service", "ExecStart").endswith("google-sync --config /etc/clearos/google_sync.conf worker")
    assert unit.get("Service", "Restart") == "on-failure"
    assert unit.get("Service", "StandardError") == "journal"
    assert unit.get("Install", "WantedBy") == "multi-user.target"
