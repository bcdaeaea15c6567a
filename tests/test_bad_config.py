"""Every kind of bad configuration file, through the real command line: exit 1, one clean line naming
the file, the section and the key (or the line), no traceback, and never a secret repeated."""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from app_google_sync import cli

SECRET = "Secret-Hunter2"
BASE = f"""\
[ldap]
uri = ldap://127.0.0.1:1
base_dn = dc=example,dc=com
bind_password = {SECRET}
timeout = 2

[google]
domain = example.com
admin_email = admin@example.com

[sync]
state_dir = {{state}}
"""
GOOGLE_SYNC = Path(sys.executable).with_name("google-sync")


def add(section: str, *lines: str):
    """An edit: ``lines`` at the top of ``[section]``."""
    return lambda text: text.replace(f"[{section}]\n", f"[{section}]\n" + "".join(f"{line}\n" for line in lines), 1)


def replace(old: str, new: str):
    return lambda text: text.replace(old, new, 1)


def state_dir(value: str):
    return lambda text: text.partition("state_dir =")[0] + f"state_dir = {value}\n"


# (what is wrong, the edit of BASE, what the message must say)
CASES = [
    (
        "not UTF-8",
        lambda text: text.replace(SECRET, "Secret-\udcff-Hunter2"),
        "line 4 of {config} ([ldap] bind_password) is not UTF-8 text",
    ),
    (
        "state_dir is a file",
        state_dir("{config}"),
        "[sync] state_dir = '{config}': {config} is a file, not a directory",
    ),
    (
        "state_dir cannot be created",
        state_dir("{config}/state"),
        "[sync] state_dir = '{config}/state': {config} is a file",
    ),
    ("state_dir relative", state_dir("var/state"), "[sync] state_dir = 'var/state': give an absolute directory path"),
    (
        "database_url unknown scheme",
        add("sync", "database_url = foo://bar"),
        "[sync] database_url: not a database URL SQLAlchemy knows",
    ),
    (
        "database_url holding a password",
        add("sync", f"database_url = foo://sync:{SECRET}@db/sync"),
        "[sync] database_url: not a database URL",
    ),
    (
        "interval not a number",
        add("sync", "interval = abc"),
        "[sync] interval = 'abc': give a whole number of minutes from 5 to 10080",
    ),
    ("interval negative", add("sync", "interval = -5"), "[sync] interval = '-5': give a whole number of minutes"),
    ("automatic neither yes nor no", add("sync", "automatic = maybe"), "[sync] automatic = 'maybe': use yes or no"),
    (
        "max_suspend over 100%",
        add("sync", "max_suspend = 200%"),
        "[sync] max_suspend = '200%': give a count (10) or a percentage from 0% to 100%",
    ),
    ("max_suspend not a limit", add("sync", "max_suspend = lots"), "[sync] max_suspend = 'lots'"),
    ("max_member_removals over 100%", add("sync", "max_member_removals = 150%"), "[sync] max_member_removals = '150%'"),
    (
        "token_uri not a URL",
        add("google", "token_uri = nonsense"),
        "[google] token_uri = 'nonsense': give an http(s) URL with a host",
    ),
    (
        "api_endpoint without a host",
        add("google", "api_endpoint = http://"),
        "[google] api_endpoint = 'http://': give an http(s) URL with a host",
    ),
    (
        "api_endpoint with a bad port",
        add("google", "api_endpoint = https://example.com:port/"),
        "[google] api_endpoint = 'https://example.com:port/'",
    ),
    (
        "api_endpoint bad scheme",
        add("google", "api_endpoint = ftp://example.com/"),
        "[google] api_endpoint = 'ftp://example.com/'",
    ),
    (
        "ldap uri bad scheme",
        replace("uri = ldap://127.0.0.1:1", "uri = http://127.0.0.1"),
        "[ldap] uri = 'http://127.0.0.1': use ldap://, ldaps:// or ldapi://",
    ),
    (
        "groups bad list",
        add("sync", "groups = a,[b"),
        "[sync] groups = 'a,[b': '[b' is not a group name that can be listed",
    ),
    ("groups none among names", add("sync", "groups = none sales"), "[sync] groups = 'none sales'"),
    (
        "a line without '='",
        replace(f"bind_password = {SECRET}", f"bind_password {SECRET}"),
        "line 4 of {config} (in [ldap]) has no '='",
    ),
    (
        "a line without a key",
        replace(f"bind_password = {SECRET}", f"= {SECRET}"),
        "line 4 of {config} (in [ldap]) has no key before its '='",
    ),
    (
        "a key before any section",
        lambda text: f"bind_password = {SECRET}\n" + text,
        "line 1 of {config} comes before any [section] header",
    ),
    (
        "a duplicate key",
        add("sync", "batch_size = 10", "batch_size = 20"),
        "line 13 of {config} sets [sync] batch_size a second time: keep one of them",
    ),
    (
        "a duplicate section",
        lambda text: text + "[google]\ndomain = other.com\n",
        "line 13 of {config} starts [google] a second time",
    ),
    (
        "an indented line continuing a secret",
        replace(f"bind_password = {SECRET}", f"bind_password = x\n  {SECRET}"),
        "[ldap] bind_password: a value must fit on one line",
    ),
    (
        "a unicode line separator",
        add("sync", "org_unit_root = /Staff\u2028unmanaged_accounts = suspend"),
        "[sync] org_unit_root: a value cannot span lines (it holds U+2028)",
    ),
    (
        "a form feed in a secret",
        replace(f"bind_password = {SECRET}", f"bind_password = {SECRET[:7]}\f{SECRET[7:]}"),
        "[ldap] bind_password: a value cannot span lines",
    ),
    (
        "an empty required key",
        replace("domain = example.com", "domain ="),
        "[google] domain is not set: give the Google Workspace primary domain",
    ),
    ("a missing required key", replace("admin_email = admin@example.com\n", ""), "[google] admin_email is not set"),
    ("no users_dn nor base_dn", replace("base_dn = dc=example,dc=com\n", ""), "[ldap] users_dn is not set"),
    (
        "unbalanced filter",
        add("ldap", "user_filter = (|(objectClass=posixAccount)"),
        "[ldap] user_filter = '(|(objectClass=posixAccount)': not an LDAP filter",
    ),
    (
        "filter without parentheses",
        add("ldap", "disabled_filter = shadowExpire=1"),
        "[ldap] disabled_filter = 'shadowExpire=1': not an LDAP filter",
    ),
    ("bind_dn not a DN", add("ldap", "bind_dn = sync account"), "[ldap] bind_dn = 'sync account': not a DN"),
    (
        "negative batch_size",
        add("sync", "batch_size = -1"),
        "[sync] batch_size = '-1': give a whole number from 1 to 1000",
    ),
    ("batch_size over 1000", add("sync", "batch_size = 1001"), "[sync] batch_size = '1001'"),
    (
        "timeout not a number",
        replace("timeout = 2", "timeout = soon"),
        "[ldap] timeout = 'soon': give a whole number of seconds",
    ),
    ("page_size zero", add("ldap", "page_size = 0"), "[ldap] page_size = '0'"),
    ("start_tls neither yes nor no", add("ldap", "start_tls = maybe"), "[ldap] start_tls = 'maybe': use yes or no"),
    (
        "queries_per_minute zero",
        add("google", "queries_per_minute = 0"),
        "[google] queries_per_minute = '0': give a whole number from 1 to 1000000",
    ),
    (
        "retry_deadline not a duration",
        add("google", "retry_deadline = forever"),
        "[google] retry_deadline = 'forever': give a duration",
    ),
    (
        "push_retry_max zero",
        add("sync", "push_retry_max = 0"),
        "[sync] push_retry_max = '0': give a duration from 1s to 1d",
    ),
    ("suspend_window with a unit of its own", add("sync", "suspend_window = 2w"), "[sync] suspend_window = '2w'"),
    (
        "unmanaged_accounts unknown",
        add("sync", "unmanaged_accounts = delete"),
        "[sync] unmanaged_accounts = 'delete': use one of ignore, suspend",
    ),
    (
        "posting policy unknown",
        add("sync", "posting_policy = everyone"),
        "[sync] posting_policy = 'everyone': use one of members, domain, anyone",
    ),
    (
        "per-group posting policy unknown",
        lambda text: text + "[posting_policy]\nsales = world\n",
        "[posting_policy] sales = 'world'",
    ),
    (
        "org_units unknown",
        add("sync", "org_units = tree"),
        "[sync] org_units = 'tree': use dn, attribute:<LDAP attribute>, or nothing",
    ),
    ("org_unit_root empty part", add("sync", "org_unit_root = /Staff//EMEA"), "[sync] org_unit_root = '/Staff//EMEA'"),
    (
        "attribute not a name",
        lambda text: text + "[attributes]\nphone = telephone number\n",
        "[attributes] phone = 'telephone number': give an LDAP attribute name",
    ),
    (
        "domain not a domain",
        replace("domain = example.com", "domain = example"),
        "[google] domain = 'example': give the Google Workspace primary domain",
    ),
    (
        "admin_email not an address",
        replace("admin_email = admin@example.com", "admin_email = admin"),
        "[google] admin_email = 'admin'",
    ),
    (
        "credentials_file relative",
        add("google", "credentials_file = key.json"),
        "[google] credentials_file = 'key.json': give an absolute path",
    ),
    (
        "bind_password_file missing",
        add("ldap", "bind_password_file = /nonexistent/password"),
        "[ldap] bind_password_file = '/nonexistent/password': cannot read it",
    ),
    (
        "ca_file missing",
        add("ldap", "ca_file = /nonexistent/ca.pem"),
        "[ldap] ca_file = '/nonexistent/ca.pem': cannot read it (No such file or directory)",
    ),
    ("ca_file a directory", add("ldap", "ca_file = /"), "[ldap] ca_file = '/': cannot read it (Is a directory)"),
    (
        "metrics port out of range",
        lambda text: text + "[worker]\nmetrics_address = 127.0.0.1:99999\n",
        "[worker] metrics_address = '127.0.0.1:99999': give host:port",
    ),
    (
        "metrics port zero",
        lambda text: text + "[worker]\nmetrics_address = 127.0.0.1:0\n",
        "[worker] metrics_address = '127.0.0.1:0'",
    ),
]


def run(config: Path, command: str = "test") -> tuple[int, str, str]:
    """The CLI in this process (a traceback would fail the test, not print)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["--config", str(config), command])
    return code, out.getvalue(), err.getvalue()


def written(tmp_path: Path, edit) -> Path:
    config = tmp_path / "google_sync.conf"
    text = edit(BASE.format(state=tmp_path / "state")).replace("{config}", str(config))
    config.write_bytes(text.encode("utf-8", "surrogateescape"))
    return config


@pytest.mark.parametrize(("edit", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_configuration(tmp_path, edit, expected):
    config = written(tmp_path, edit)
    code, out, err = run(config)
    assert code == 1
    assert out == "" and err.endswith("\n") and "\n" not in err.rstrip("\n"), err
    assert err.startswith("google-sync: configuration error: ") and expected.replace("{config}", str(config)) in err, (
        err
    )
    assert str(config) in err and "Traceback" not in err and "Hunter2" not in err


@pytest.mark.parametrize(("what", "path"), [("missing", "missing.conf"), ("a directory", ".")])
def test_a_configuration_file_that_cannot_be_read(tmp_path, what, path):
    code, out, err = run(tmp_path / path)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"google-sync: configuration error: cannot read configuration file {tmp_path / path}: ")


def test_the_installed_command_prints_one_line_without_a_traceback(tmp_path):
    config = written(tmp_path, replace(f"bind_password = {SECRET}", f"bind_password {SECRET}"))
    done = subprocess.run(
        [str(GOOGLE_SYNC), "--config", str(config), "test"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stdout == ""
    assert (
        done.stderr
        == f"google-sync: configuration error: line 4 of {config} (in [ldap]) has no '=': write key = value (the line is not shown: it may hold a password)\n"
    )


def test_unknown_keys_and_sections_are_warnings_naming_the_nearest_key(tmp_path):
    config = written(
        tmp_path,
        lambda text: (
            add("ldap", "enabeld_group = staff")(add("sync", "max_suspnd = 5")(text)) + "[atributes]\ntitle = x\n"
        ),
    )
    done = subprocess.run(
        [str(GOOGLE_SYNC), "--config", str(config), "test"], capture_output=True, text=True, timeout=120
    )
    warnings = [
        line.split("WARNING app_google_sync.libraries.settings.config: ", 1)[1]
        for line in done.stderr.splitlines()
        if "WARNING app_google_sync.libraries.settings.config" in line
    ]
    assert warnings == [
        f"{config}: [ldap] enabeld_group is not a known key (did you mean enabled_group?); it is ignored",
        f"{config}: [sync] max_suspnd is not a known key (did you mean max_suspend?); it is ignored",
        f"{config}: [atributes] is not a known section (did you mean [attributes]?); it is ignored",
    ]
    assert "cannot reach ldap://127.0.0.1:1" in done.stderr  # a warning does not stop the run
    assert "Traceback" not in done.stderr and "Hunter2" not in done.stderr


def test_check_prints_the_warnings(tmp_path):
    code, out, _ = run(written(tmp_path, add("sync", "max_suspnd = 5")), "check")
    assert code == 1  # nothing listens on ldap://127.0.0.1:1, and no key is set
    assert (
        f"WARN  config: {tmp_path / 'google_sync.conf'}: [sync] max_suspnd is not a known key (did you mean max_suspend?); it is ignored\n"
        in out
    )


@pytest.mark.parametrize("content", ["[1, 2]", '"a key"', "null", "42"], ids=["a list", "a string", "null", "a number"])
def test_a_key_file_that_is_json_but_not_an_object(tmp_path, content):
    key = tmp_path / "key.json"
    key.write_text(content)
    config = written(tmp_path, add("google", f"credentials_file = {key}"))
    code, out, err = run(config, "check")
    assert code == 1 and "Traceback" not in out + err
    assert f"FAIL  google: [google] credentials_file = {key}: not a JSON service-account key" in out
    code, out, err = run(
        config, "test"
    )  # LDAP is unreachable here: the key is read first or the LDAP error is the line
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err


def test_a_ca_file_that_is_no_certificate_is_named_when_tls_uses_it(directory, tmp_path):
    """Over ldaps:// a ca_file that exists but holds no certificate: the key is named, no traceback."""
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    config = written(
        tmp_path,
        lambda text: add("ldap", f"ca_file = {not_pem}")(
            replace("uri = ldap://127.0.0.1:1", f"uri = {directory.ldaps_uri}")(text)
        ),
    )
    code, out, err = run(config, "check")
    assert code == 1 and "Traceback" not in out + err
    ldap_line = next(line for line in out.splitlines() if line.startswith("FAIL  ldap:"))
    assert f"check [ldap] ca_file = {not_pem}: it must be the PEM certificate" in ldap_line, ldap_line


@pytest.mark.parametrize("command", ["test", "status"])
def test_a_damaged_state_database_is_named_with_the_fix(tmp_path, command):
    config = written(tmp_path, lambda text: text)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.db").write_bytes(b"not a database " * 100)
    code, out, err = run(config, command)
    assert code == 1 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        f"google-sync: cannot use the state database: {tmp_path / 'state' / 'state.db'}: file is not a database; "
    )
    assert "restore it from a backup, or move it aside" in err
