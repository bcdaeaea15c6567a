"""The one configuration schema: what comes from it (README, example, settings, console writer) and what it refuses."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from app_google_sync.libraries.core.errors import ConfigError
from app_google_sync.libraries.directory.ldap_source import LdapSource
from app_google_sync.libraries.settings import config, config_docs, config_file
from app_google_sync.libraries.settings import config_schema as schema
from app_google_sync.libraries.settings.config import (
    AttributeMap,
    GoogleSettings,
    LdapSettings,
    LicenseSettings,
    NotifySettings,
    SourceSettings,
    SyncSettings,
    WorkerSettings,
)
from app_google_sync.libraries.sync.safety import member_removal_limit, suspend_limit

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLE = ROOT / "deploy" / "google_sync.conf.example"
MINIMAL = "[ldap]\nbase_dn = dc=example,dc=com\n[google]\ndomain = example.com\nadmin_email = admin@example.com\n[sync]\nstate_dir = {state}\n"


@pytest.fixture
def minimal(tmp_path):
    path = tmp_path / "google_sync.conf"
    path.write_text(MINIMAL.format(state=tmp_path / "state"))
    return path


def readme_tables() -> dict[str, dict[str, str]]:
    """{section: {key: default cell}} from the README's configuration reference."""
    reference = README.read_text().split(config_docs.README_HEADING, 1)[1].split("\n## ", 1)[0]
    tables = {}
    for section, body in re.findall(r"### `\[(\w+)\]`(.*?)(?=\n### |\Z)", reference, flags=re.S):
        tables[section] = dict(re.findall(r"^\| `(\w+)` \| (.*?) \| .* \|$", body, flags=re.M))
    return tables


# -- what comes from the schema --------------------------------------------------------------------


def test_the_readme_tables_list_exactly_the_schema_keys_with_their_defaults():
    tables = readme_tables()
    assert list(tables) == [section.name for section in schema.SECTIONS]
    for section in schema.SECTIONS:
        expected = {key.name: config_docs.readme_default(key).replace("|", "\\|") for key in section.keys}
        assert tables[section.name] == expected, section.name


def test_the_readme_reference_is_the_one_written_from_the_schema():
    assert config_docs.readme_reference() in README.read_text(), (
        "run: python -m app_google_sync.libraries.settings.config_docs README.md deploy/google_sync.conf.example"
    )


def test_the_example_is_the_one_written_from_the_schema_and_is_valid():
    assert EXAMPLE.read_text() == config_docs.example_config(), (
        "run: python -m app_google_sync.libraries.settings.config_docs README.md deploy/google_sync.conf.example"
    )
    settings = config.load(str(EXAMPLE))
    assert settings.warnings == ()
    for section in schema.SECTIONS:
        for key in section.keys:
            written = re.findall(rf"^(# )?{key.name} =(.*)$", EXAMPLE.read_text(), flags=re.M)
            assert len(written) == 1, key.name
            commented, value = written[0]
            assert bool(commented) == key.commented
            assert value.strip() == (key.default if key.example is None else key.example), key.name


def test_every_settings_field_is_a_schema_key_with_its_default():
    derived = {"posting_overrides"}  # from the [posting_policy] section
    pairs = (
        (LdapSettings, "ldap"),
        (GoogleSettings, "google"),
        (SyncSettings, "sync"),
        (AttributeMap, "attributes"),
        (LicenseSettings, "licenses"),
        (NotifySettings, "notify"),
        (WorkerSettings, "worker"),
        (SourceSettings, "sources"),
    )
    for settings, section in pairs:
        keys = {key.name: key for key in schema.section(section).keys if key.field}
        fields = {field.name: field.default for field in dataclasses.fields(settings) if field.name not in derived}
        assert set(fields) == set(keys), section
        assert all(fields[name] == keys[name].typed_default for name in fields), section


def test_a_key_name_belongs_to_one_section():
    names = [key.name for section in schema.SECTIONS for key in section.keys]
    assert len(names) == len(set(names))


def test_the_console_edits_what_the_schema_says():
    edited = {(section.name, key.name) for section in schema.SECTIONS for key in section.keys if key.console}
    assert {("google", "domain"), ("sync", "interval"), ("sync", "groups"), ("attributes", "title")} <= edited
    assert [key for key, _, _ in config_file.ATTRIBUTE_FIELDS] == list(vars(AttributeMap()))


# -- kinds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("1.5h", 5400)]
)
def test_durations(text, seconds):
    assert schema.Duration(0, 30 * 86400).parse(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5", "5 minutes", "1w", "31d"])
def test_bad_durations(text):
    with pytest.raises(schema.Invalid, match="such as 90s, 30m, 24h or 7d"):
        schema.Duration(0, 30 * 86400).parse(text)


@pytest.mark.parametrize("text", ["0", "10", "0%", "25%", "12.5%", "100%"])
def test_limits(text):
    assert schema.key("sync", "max_suspend").parse(text) == text


@pytest.mark.parametrize("text", ["200%", "100.5%", "lots", "-1", "%", "10 %", ""])
def test_bad_limits_are_refused_so_a_limit_is_never_off(text):
    with pytest.raises(schema.Invalid):
        schema.key("sync", "max_member_removals").parse(text)


def test_limits_as_counts_and_percentages():
    sync = SyncSettings(max_suspend="10%", max_member_removals="3")
    assert (suspend_limit(sync, 100), suspend_limit(sync, 9), member_removal_limit(sync, 500)) == (10, 9, 3)
    assert member_removal_limit(SyncSettings(), 40) == 20 and member_removal_limit(SyncSettings(), 4) == 4


@pytest.mark.parametrize(
    "text", ["(uid=a)", "(|(a=1)(b=*))", "(&(objectClass=x)(!(c>=2)))", "(cn:dn:=x)", "(mail=a\\28b\\29)"]
)
def test_ldap_filters(text):
    assert schema.LdapFilter().parse(text) == text


@pytest.mark.parametrize(
    "text",
    ["uid=a", "(uid=a", "(|(a=1)", "(a=1))", "(|(a=1)(b=2)", "()", "(=x)", "(a=(b))", "(!(a=1)(b=2))", "(" * 5000],
)
def test_bad_ldap_filters(text):
    with pytest.raises(schema.Invalid, match="not an LDAP filter"):
        schema.LdapFilter().parse(text)


def test_new_keys_reach_the_settings(minimal):
    text = minimal.read_text().replace("[google]\n", "[google]\nqueries_per_minute = 600\nretry_deadline = 2h\n")
    minimal.write_text(
        text.replace(
            "[sync]\n", "[sync]\npush_retry_max = 90\nsuspend_window = 7d\nmax_member_removals = 5\npush_delay = 2.5\n"
        )
    )
    settings = config.load(str(minimal))
    assert (settings.google.queries_per_minute, settings.google.retry_deadline) == (600, 7200)
    sync = settings.sync
    assert (sync.push_retry_max, sync.suspend_window, sync.max_member_removals, sync.push_delay) == (
        90,
        7 * 86400,
        "5",
        2.5,
    )


def test_the_clearos_disabled_filter_also_reads_clear_account_status():
    assert LdapSettings().disabled_filter == "(|(pwdAccountLockedTime=*)(shadowExpire=1)(clearAccountStatus=disabled))"


def test_the_default_disabled_filter_locks_by_clear_account_status(directory):
    directory.add_user("alice", "Alice", "Martin", extra_attrs={"clearAccountStatus": "disabled"})
    directory.add_user("bob", "Bob", "Dupont")
    directory.add_group("google_apps_plugin", members=["alice", "bob"])
    with LdapSource(directory.settings()) as source:
        users = {user.uid: user for user in source.read_state().users}
    assert users["alice"].locked and not users["bob"].locked


def test_a_server_without_the_clearos_schema_reads_the_default_filter_as_undefined(directory):
    """slapd evaluates a term on an attribute type its schema lacks as Undefined: the OR goes on without it."""
    directory.add_user("alice", "Alice", "Martin", locked=True)
    directory.add_user("bob", "Bob", "Dupont")
    directory.add_group("google_apps_plugin", members=["alice", "bob"])
    unknown = LdapSettings().disabled_filter.replace("clearAccountStatus", "noSuchAttributeType")
    with LdapSource(directory.settings(disabled_filter=unknown)) as source:
        users = {user.uid: user for user in source.read_state().users}
        assert source.read_user("alice").locked and not source.read_user("bob").locked
    assert users["alice"].locked and not users["bob"].locked


# -- reading ---------------------------------------------------------------------------------------


def test_unknown_sections_and_keys_are_warnings_naming_the_nearest_key(minimal, caplog):
    minimal.write_text(
        minimal.read_text().replace("[sync]\n", "[sync]\nmax_suspnd = 3\nenabeld_group = staff\n")
        + "[atributes]\ntitle = x\n"
    )
    settings = config.load(str(minimal))
    assert settings.warnings == (
        f"{minimal}: [sync] max_suspnd is not a known key (did you mean max_suspend?); it is ignored",
        f"{minimal}: [sync] enabeld_group is not a known key (did you mean [ldap] enabled_group?); it is ignored",
        f"{minimal}: [atributes] is not a known section (did you mean [attributes]?); it is ignored",
    )
    assert settings.sync.max_suspend == "25%" and settings.ldap.enabled_group == "google_apps_plugin"
    assert [
        record.getMessage() for record in caplog.records if record.name == "app_google_sync.libraries.settings.config"
    ] == list(settings.warnings)
    config.load(str(minimal))
    assert (
        len([record for record in caplog.records if record.name == "app_google_sync.libraries.settings.config"]) == 3
    )  # logged once


def test_a_default_section_is_an_unknown_section_not_copied_everywhere(minimal):
    minimal.write_text("[DEFAULT]\ninterval = often\n" + minimal.read_text())
    settings = config.load(str(minimal))
    assert settings.sync.interval == 60
    assert settings.warnings == (f"{minimal}: [DEFAULT] is not a known section; it is ignored",)


def test_a_byte_order_mark_and_windows_line_ends_are_read(minimal):
    minimal.write_bytes(b"\xef\xbb\xbf" + minimal.read_bytes().replace(b"\n", b"\r\n"))
    assert config.load(str(minimal)).google.domain == "example.com"


def test_blank_values_that_mean_the_default(minimal):
    minimal.write_text(
        minimal.read_text()
        .replace("[sync]\n", "[sync]\ngroups =\norg_unit_root =\n")
        .replace("[ldap]\n", "[ldap]\nuser_filter =\n")
    )
    settings = config.load(str(minimal))
    assert (settings.sync.groups, settings.sync.org_unit_root) == (("*",), "/")
    assert settings.ldap.user_filter == LdapSettings().user_filter


def test_the_console_reads_an_incomplete_file_but_not_a_wrong_value(tmp_path):
    path = tmp_path / "c.conf"
    path.write_text("[ldap]\nuri = ldap://127.0.0.1\n[sync]\ninterval = 30\n")
    assert config_file.schedule(config_file.read(str(path))) == config_file.Schedule(False, 30)
    with pytest.raises(ConfigError, match=r"\[google\] domain is not set"):
        config.load(str(path))
    path.write_text("[ldap]\nuri = ldap://127.0.0.1\n[sync]\nautomatic = maybe\n")
    with pytest.raises(ConfigError, match=r"c\.conf: \[sync\] automatic = 'maybe': use yes or no"):
        config_file.read(str(path))


# -- writing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", list(schema.LINE_SEPARATORS))
def test_the_console_writes_no_line_separator_of_any_kind(minimal, separator):
    assert len(f"x{separator}y".splitlines()) == 2
    before = minimal.read_text()
    with pytest.raises(ConfigError, match=r"\[sync\] org_unit_root: a value cannot span lines"):
        config_file.update(str(minimal), "sync", {"org_unit_root": f"/Staff{separator}unmanaged_accounts = suspend"})
    assert minimal.read_text() == before


def test_an_edit_keeps_a_comment_holding_a_unicode_line_separator_whole(minimal):
    minimal.write_text(minimal.read_text().replace("[sync]\n", "[sync]\n# note\u2028unmanaged_accounts = suspend\n"))
    config_file.update(str(minimal), "sync", {"interval": "30"})
    assert "# note\u2028unmanaged_accounts = suspend\n" in minimal.read_text()
    assert config.load(str(minimal)).sync.unmanaged_accounts == "ignore"


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("sync", {"interval": "often"}, r"\[sync\] interval = 'often': give a whole number of minutes"),
        ("sync", {"intervall": "30"}, r"\[sync\] intervall: not a known setting \(did you mean interval\?\)"),
        ("extra", {"key": "value"}, r"\[extra\] key: not a known setting"),
        (
            "google",
            {"api_endpoint": "http://"},
            r"\[google\] api_endpoint = 'http://': give an http\(s\) URL with a host",
        ),
        (
            "posting_policy",
            {"sales": "world"},
            r"\[posting_policy\] sales = 'world': use one of members, domain, anyone",
        ),
        ("ldap", {"bind_password": "a\u2029b"}, r"\[ldap\] bind_password: a value cannot span lines"),
    ],
)
def test_the_console_writes_only_what_the_loader_accepts(minimal, section, values, message):
    before = minimal.read_text()
    with pytest.raises(ConfigError, match=message):
        config_file.update(str(minimal), section, values)
    assert minimal.read_text() == before


def test_a_secret_written_wrong_is_not_repeated(minimal):
    with pytest.raises(ConfigError) as raised:
        config_file.update(str(minimal), "sync", {"database_url": "foo://user:Secret-Hunter2@host/db"})
    assert "Hunter2" not in str(raised.value) and "[sync] database_url" in str(raised.value)


# --- length caps: declared with the kinds, checked before anything else ----------------------------------------
@pytest.mark.parametrize(
    "where",
    [(section.name, key.name) for section in schema.SECTIONS for key in section.keys]
    + [("posting_policy", "sales"), ("custom_attributes", "HR.costCenter")],
    ids="[{0[0]}] {0[1]}".format,
)
def test_every_key_refuses_a_value_over_its_cap_in_one_short_line(where):
    section_name, name = where
    kind = (
        schema.key(section_name, name).kind
        if schema.section(section_name).key(name)
        else schema.section(section_name).any_key
    )
    limit = schema.max_length(kind)
    assert 0 < limit <= 65536
    with pytest.raises(ConfigError) as refused:
        schema.check(section_name, name, "a" * (limit + 1))
    message = str(refused.value)
    assert (
        message
        == f"[{section_name}] {name}: the value is too long ({limit + 1} characters; at most {limit}): shorten it"
    )


def test_a_refused_value_is_repeated_only_in_part():
    with pytest.raises(ConfigError) as refused:
        schema.check("sync", "exclude_groups", "a:b " * 1000)
    assert len(str(refused.value)) < 400 and "…" in str(refused.value)
