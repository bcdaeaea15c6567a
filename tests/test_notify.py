"""E-mail notifications against a real SMTP server (aiosmtpd), real slapd and the emulator: what is said, when, and never a secret."""

from __future__ import annotations

import datetime as dt
import logging
import ssl

import pytest
from smtp_sink import SmtpSink
from sqlalchemy import update

from app_google_sync import cli
from app_google_sync.libraries.core.errors import GoogleSyncError
from app_google_sync.libraries.ops import notify
from app_google_sync.libraries.runtime import jobs
from app_google_sync.libraries.settings import config
from app_google_sync.libraries.settings.config import NotifySettings
from app_google_sync.libraries.state.store import RunRecord, Store, now, push_queue_table
from app_google_sync.libraries.sync.engine import SyncEngine

HASH = "$6$rounds=5000$saltsalt$" + "x" * 86
SHA1 = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"


def with_notify(env, port: int, **keys: str):
    """The environment's configuration with a [notify] section sending to ``port``, and a user to synchronize.

    Google's errors are not retried: an outage fails a run at once.
    """
    try:
        env.directory.user_dn("alice")
    except KeyError:
        env.directory.add_user("alice", "Alice", "Tester", groups=("google_apps_plugin",))
    path = env.write_config(max_retries="0")
    path.write_text(path.read_text().replace("[google]\n", "[google]\nretry_deadline = 0\n"))
    lines = {
        "email_to": "ops@example.com, boss@example.com",
        "email_from": "google-sync@server.example.com",
        "smtp_host": "127.0.0.1",
        "smtp_port": str(port),
        "console_url": "https://server.example.com:81/app/google_sync/",
        **keys,
    }
    path.write_text(path.read_text() + "[notify]\n" + "".join(f"{key} = {value}\n" for key, value in lines.items()))
    return config.load(str(path))


class Clock:
    def __init__(self):
        self.moment = now()

    def __call__(self):
        return self.moment

    def advance(self, **delta):
        self.moment += dt.timedelta(**delta)


def failed_sync(env, settings) -> int:
    env.emulator.outage = True
    try:
        with pytest.raises(GoogleSyncError):
            SyncEngine(settings).sync(trigger="scheduler")
    finally:
        env.emulator.outage = False
    return Store(settings.sync.database).runs(limit=1)[0].id


# -- what a message says ------------------------------------------------------------------------


def run(outcome: str, trigger: str = "scheduler", message: str = "") -> RunRecord:
    started = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)
    return RunRecord(12, trigger, False, started, started, outcome, "", {}, message)


def test_a_partial_run_names_each_failed_object_with_the_fix_and_the_run_page_and_hides_secrets():
    results = [
        {"action": "create user", "object": "ann@example.com", "ok": True, "message": ""},
        {
            "action": "set password",
            "object": "bob@example.com",
            "ok": False,
            "message": f"400 Invalid Password {HASH} {{SHA}}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        },
        {
            "action": "update user",
            "object": "cy@example.com",
            "ok": False,
            "message": f"token ya29.a0AfH6SMBx-secret refused, digest {SHA1}",
        },
    ]
    event = notify.run_event(run("partial"), results, "failures", "https://server.example.com:81/app/google_sync/")
    settings = NotifySettings(email_to=("ops@example.com",), email_from="gs@server.example.com")
    message = notify.build_message(settings, "example.com", "server.example.com", event.kind, [event])
    body = message.get_content()
    assert message["Subject"] == "[google-sync] example.com: 1 synchronization problem"
    assert "Synchronization #12 started by scheduler at 2026-12-02 03:00 UTC: partial" in body
    assert "FAILED set password bob@example.com: 400 Invalid Password [hidden]" in body
    assert "FAILED update user cy@example.com" in body and "ann@example.com" not in body
    assert "Fix: Each failed object says why" in body
    assert "Run page: https://server.example.com:81/app/google_sync/history/12" in body
    for secret in (HASH, "saltsalt", "W6ph5Mm5Pz8GgiULbPgzG37mj9g", "ya29.", SHA1):
        assert secret not in message.as_string()


@pytest.mark.parametrize(
    ("outcome", "fix"),
    [("failed", "google-sync sync"), ("refused", "--force"), ("interrupted", "run `google-sync sync` again")],
)
def test_failures_say_what_to_do(outcome, fix):
    event = notify.run_event(run(outcome, message="cannot reach https://admin.googleapis.com/"), [], "failures")
    assert (
        event.kind == notify.FAILURES
        and fix in event.fix
        and event.lines == ("cannot reach https://admin.googleapis.com/",)
    )
    assert event.link == ""  # no console_url: no link


def test_what_is_not_news():
    assert (
        notify.run_event(run("applied"), [{"action": "a", "object": "o", "ok": True, "message": ""}], "failures")
        is None
    )
    assert notify.run_event(run("failed"), [], "never") is None
    # A push's failure is retried by the queue: it is told about once it has failed for an hour, not at once.
    assert notify.run_event(run("partial", trigger="watch"), [], "failures") is None
    assert notify.run_event(run("interrupted", trigger="watch"), [], "failures").kind == notify.FAILURES
    change = notify.run_event(
        run("applied", trigger="watch"),
        [{"action": "update_user", "object": "ann@example.com", "ok": True, "message": ""}],
        "changes",
    )
    assert change.kind == notify.CHANGES and change.lines == ("update_user ann@example.com",)


# -- sending, throttling, sharing -----------------------------------------------------------------


def test_a_failed_scheduled_run_is_mailed_once_then_the_next_ones_are_summed_up_after_min_interval(env, smtp_sink):
    settings = with_notify(env, smtp_sink.port)
    clock = Clock()
    first = failed_sync(env, settings)
    assert notify.Notifier(settings, Store(settings.sync.database), clock=clock).check() == [notify.FAILURES]
    (message,) = smtp_sink.messages
    assert message["To"] == "ops@example.com, boss@example.com" and message["From"] == "google-sync@server.example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert f"Synchronization #{first} started by scheduler" in body and ": failed" in body
    assert f"https://server.example.com:81/app/google_sync/history/{first}" in body

    second, third = failed_sync(env, settings), failed_sync(env, settings)
    # Another process (a second Store on the same database) shares the throttle: nothing before min_interval.
    clock.advance(minutes=59)
    assert notify.Notifier(settings, Store(settings.sync.database), clock=clock).check() == []
    assert len(smtp_sink.messages) == 1
    clock.advance(minutes=2)
    assert notify.Notifier(settings, Store(settings.sync.database), clock=clock).check() == [notify.FAILURES]
    summary = smtp_sink.messages[1]
    assert summary["Subject"] == "[google-sync] example.com: 2 synchronization problems"
    assert (
        f"#{second} " in summary.get_content()
        and f"#{third} " in summary.get_content()
        and f"#{first} " not in summary.get_content()
    )
    clock.advance(hours=2)
    assert (
        notify.Notifier(settings, Store(settings.sync.database), clock=clock).check() == []
    )  # nothing new: nothing sent


def test_an_unreachable_mail_server_is_logged_never_breaks_the_run_and_the_news_waits(env, caplog):
    sink = SmtpSink()  # not started yet: its port refuses connections
    settings = with_notify(env, sink.port)
    env.emulator.outage = True
    with caplog.at_level(logging.ERROR):
        assert jobs.full_sync(str(settings.path)) is None  # the scheduled job: logged, returns, no exception
    env.emulator.outage = False
    assert f"cannot send through 127.0.0.1:{sink.port}" in caplog.text and "check [notify] smtp_host" in caplog.text
    assert "Traceback" not in caplog.text
    sink.controller.start()
    try:
        clock = Clock()
        clock.advance(hours=1, seconds=1)
        assert notify.Notifier(settings, Store(settings.sync.database), clock=clock).check() == [notify.FAILURES]
        assert ": failed" in sink.bodies()[0]
    finally:
        sink.controller.stop()


def test_a_push_failing_for_an_hour_is_mailed_from_the_push_that_fails_again(env, smtp_sink):
    settings = with_notify(env, smtp_sink.port)
    store = Store(settings.sync.database)
    SyncEngine(settings).sync()
    store.enqueue_push("user:alice", "user", "alice", "", "watch", now())
    (push,) = store.queued_pushes()
    store.push_failed(push, "503 backendError", now())
    with store.engine.begin() as connection:  # first seen two hours ago
        connection.execute(update(push_queue_table).values(first_seen_at=now() - dt.timedelta(hours=2)))
    env.emulator.outage = True
    with pytest.raises(GoogleSyncError):
        jobs.run_push(str(settings.path), "user", "alice", trigger="watch")
    env.emulator.outage = False
    (message,) = smtp_sink.messages
    assert message["Subject"] == "[google-sync] example.com: 1 push failing for more than an hour"
    body = message.get_content()
    assert "Push of user alice failing for 2.0 hours" in body and "last error: 503 backendError" in body
    assert "tried again until it goes through" in body
    # Told once per push, not at every retry.
    assert notify.Notifier(settings, store, clock=lambda: now() + dt.timedelta(hours=3)).check() == []


def test_when_changes_also_reports_runs_that_changed_google_and_never_sends_nothing(env, smtp_sink):
    settings = with_notify(env, smtp_sink.port, when="changes", min_interval="0")
    SyncEngine(settings).sync()
    notifier = notify.Notifier(settings, Store(settings.sync.database))
    assert notifier.check() == [notify.CHANGES]
    body = smtp_sink.bodies()[0]
    assert "1 change(s) applied" in body and "  create user alice@example.com" in body
    assert notifier.check() == []  # each run once
    never = with_notify(env, smtp_sink.port, when="never")
    failed_sync(env, never)
    assert notify.Notifier(never, Store(never.sync.database)).check() == []
    assert len(smtp_sink.messages) == 1


# -- the command line -----------------------------------------------------------------------------


def test_notify_test_from_the_command_line(env, smtp_sink, capsys):
    settings = with_notify(env, smtp_sink.port)
    assert cli.main(["--config", str(settings.path), "notify", "--test"]) == 0
    assert "Test message sent to ops@example.com, boss@example.com through 127.0.0.1" in capsys.readouterr().out
    (message,) = smtp_sink.messages
    assert message["Subject"] == "[google-sync] example.com: test message"
    assert "notifications reach ops@example.com, boss@example.com" in message.get_content()


def test_notify_test_names_the_fix_when_the_server_is_unreachable(env, capsys):
    settings = with_notify(env, SmtpSink().port)
    assert cli.main(["--config", str(settings.path), "notify", "--test"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("google-sync: cannot send through 127.0.0.1:") and "check [notify] smtp_host" in error
    assert "\n" not in error and "Traceback" not in error


def test_starttls_and_a_login_whose_password_stays_in_its_file(env, tmp_path, monkeypatch):
    certificate, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    sink = SmtpSink(tls_context=context, require_starttls=True, authenticator=None, auth_required=True)
    sink.controller.SMTP_kwargs["authenticator"] = sink.authenticate
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # the client verifies the server against this CA only
    password_file = tmp_path / "smtp-password"
    password_file.write_text("smtp-Secret-7\n")
    settings = with_notify(
        env, sink.port, smtp_host="localhost", starttls="yes", username="relay", password_file=str(password_file)
    )
    sink.controller.start()
    try:
        notify.Notifier(settings, None).send_test()
        assert sink.logins == [("relay", "smtp-Secret-7")]
        assert "smtp-Secret-7" not in sink.messages[0].as_string()
        password_file.write_text("wrong")
        with pytest.raises(
            notify.NotifyError, match=r"refused the login of \[notify\] username = relay .*password_file"
        ):
            notify.Notifier(settings, None).send_test()
    finally:
        sink.controller.stop()


def test_the_smtp_password_never_goes_out_unencrypted_unless_allowed(env, tmp_path):
    """A server offering AUTH in cleartext: refused before connecting by default; sent only with allow_cleartext_auth."""
    sink = SmtpSink(auth_require_tls=False, authenticator=None, auth_required=True)
    sink.controller.SMTP_kwargs["authenticator"] = sink.authenticate
    password_file = tmp_path / "smtp-password"
    password_file.write_text("smtp-Secret-7\n")
    refused = with_notify(env, sink.port, username="relay", password_file=str(password_file))
    sink.controller.start()
    try:
        with pytest.raises(notify.NotifyError) as raised:
            notify.Notifier(refused, None).send_test()
        line = str(raised.value)
        assert (
            "unencrypted" in line
            and "[notify] starttls = yes" in line
            and "allow_cleartext_auth = yes" in line
            and "\n" not in line
        )
        assert sink.logins == [] and sink.messages == []
        allowed = with_notify(
            env, sink.port, username="relay", password_file=str(password_file), allow_cleartext_auth="yes"
        )
        notify.Notifier(allowed, None).send_test()
        assert sink.logins == [("relay", "smtp-Secret-7")] and len(sink.messages) == 1
    finally:
        sink.controller.stop()


def self_signed_certificate(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    moment = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - dt.timedelta(minutes=5))
        .not_valid_after(moment + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_changes_held_by_a_push_are_mailed_once_with_what_to_do(env, smtp_sink):
    settings = with_notify(env, smtp_sink.port)
    assert SyncEngine(settings).sync().outcome == "applied"
    env.config_path.write_text(env.config_path.read_text().replace("max_suspend = 25%", "max_suspend = 0"))
    settings = config.load(str(env.config_path))
    env.directory.remove_from_group("google_apps_plugin", "alice")
    assert SyncEngine(settings).push_user("alice").outcome == "held"
    clock = Clock()
    assert notify.Notifier(settings, Store(settings.sync.database), clock=clock).check() == [notify.FAILURES]
    body = smtp_sink.messages[-1].get_content()
    assert "1 change(s) held for your approval" in body and "held: suspend user alice@example.com" in body
    assert "google-sync sync --force" in body and "https://server.example.com:81/app/google_sync/held" in body
    clock.advance(hours=2)
    assert notify.Notifier(settings, Store(settings.sync.database), clock=clock).check() == []  # told once


def test_google_sync_sync_from_cron_mails_its_failure(env, smtp_sink, capsys):
    settings = with_notify(env, smtp_sink.port)
    env.emulator.outage = True
    assert cli.main(["--config", str(settings.path), "sync"]) == 1
    env.emulator.outage = False
    (message,) = smtp_sink.messages
    assert "Synchronization #1 started by cli" in message.get_content() and ": failed" in message.get_content()


def test_an_interrupted_run_is_told_with_what_to_do(env, smtp_sink):
    from app_google_sync.libraries.state.store import runs_table

    settings = with_notify(env, smtp_sink.port)
    store = Store(settings.sync.database)
    run_id = store.start_run("scheduler", dry_run=False)
    with store.engine.begin() as connection:  # its process died
        connection.execute(update(runs_table).values(pid=2**22 + 7))
    assert notify.Notifier(settings, store).check() == []  # still "running": not news yet
    assert store.mark_interrupted(lock_held=False) == [run_id]
    assert notify.Notifier(settings, store).check() == [notify.FAILURES]
    body = smtp_sink.bodies()[0]
    assert f"Synchronization #{run_id} started by scheduler" in body and ": interrupted" in body
    assert "run `google-sync sync` again" in body


@pytest.mark.parametrize(
    "fqdn, hostname, expected",
    [
        ("server.example.com", "server", "server.example.com"),
        ("localhost", "vm", "vm"),  # /etc/hosts: "127.0.0.1 localhost vm": getfqdn gives localhost
        ("localhost.localdomain", "mail1", "mail1"),
        ("localhost", "", "localhost"),
    ],
)
def test_the_default_sender_names_this_server_not_localhost(monkeypatch, fqdn, hostname, expected):
    monkeypatch.setattr(notify.socket, "getfqdn", lambda *_: fqdn)
    monkeypatch.setattr(notify.socket, "gethostname", lambda: hostname)
    assert notify.host_name() == expected
    assert notify.sender_address(NotifySettings()) == f"google-sync@{expected}"
    assert notify.sender_address(NotifySettings(email_from="it@example.com")) == "it@example.com"
