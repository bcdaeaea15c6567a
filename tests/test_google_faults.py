"""Acceptance against Google's documented leeway, with faults injected: real slapd → google-sync → the real
google-api-python-client → the emulator over HTTP, the emulator set to answer as Google (or a proxy before it)
may: thin and empty pages, sparse and oddly cased resources, HTML pages, answers cut short, batch answers
missing a part, tokens expiring mid-run. Retries wait on a hand-moved clock, never on the wall clock."""

import pytest

from app_google_sync import cli
from app_google_sync.libraries.core.codes import RunOutcome
from app_google_sync.libraries.google.google_target import Backoff, GoogleTarget, required_scopes
from app_google_sync.libraries.sync.engine import SyncEngine

PASSWORD = "Secret-Pass-1"
PEOPLE = ("alice", "bob", "carol", "dave", "erin")


class Clock:
    """Time that passes only when slept."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def engine(env, clock: Clock | None = None) -> SyncEngine:
    settings = env.settings
    clock = clock or Clock()
    backoff = Backoff(settings.sync.max_retries, settings.google.retry_deadline, sleep=clock.sleep, clock=clock)
    target = GoogleTarget(settings.google, settings.sync, scopes=required_scopes(settings), backoff=backoff)
    return SyncEngine(settings, target=target)


def writes(emulator):
    return [call for call in emulator.calls if call["method"] != "GET"]


def run_cli(env, capsys, *args):
    code = cli.main(["--config", str(env.config_path), *args])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


@pytest.fixture
def synced(env):
    """Five people and two groups, already synchronized once."""
    for uid in PEOPLE:
        env.directory.add_user(uid, uid.capitalize(), "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    env.directory.add_group("sales", members=PEOPLE[:3])
    env.directory.add_group("staff", members=PEOPLE)
    assert engine(env).sync().outcome == RunOutcome.APPLIED
    env.emulator.reset_calls()
    return env


def suspended(env):
    return sorted(user["primaryEmail"] for user in env.emulator.users() if user.get("suspended"))


# -- pagination ----------------------------------------------------------------------------------


def test_thin_and_empty_pages_are_followed_to_the_end(synced):
    synced.emulator.thin_pages(cap=2, empty=True)
    assert engine(synced).compute_plan().in_sync
    lists = [call for call in synced.emulator.calls if call["path"].endswith(("/users", "/groups", "/members"))]
    assert all(call["query"].get("fields", "").startswith("nextPageToken,") for call in lists)
    assert (
        len([call for call in lists if call["path"].endswith("/users")]) == 6
    )  # 6 accounts: 3 thin pages, each after an empty one
    synced.directory.remove_from_group("google_apps_plugin", "erin")
    report = engine(synced).sync()
    assert report.outcome == RunOutcome.APPLIED and suspended(synced) == ["erin@example.com"]


def test_a_page_token_that_never_ends_refuses_the_read(synced, monkeypatch):
    from app_google_sync.emulator import paging

    encode = paging._encode
    monkeypatch.setattr(paging, "_encode", lambda key: encode([]))  # "from the start", again and again
    synced.emulator.thin_pages(cap=2)
    synced.directory.remove_from_group("google_apps_plugin", "erin")
    with pytest.raises(Exception) as raised:
        engine(synced).sync()
    assert "page token" in str(raised.value) and suspended(synced) == []


# -- shapes --------------------------------------------------------------------------------------


def test_sparse_oddly_cased_resources_with_unknown_fields_are_in_sync(synced):
    synced.emulator.odd_shapes = True
    assert engine(synced).compute_plan().in_sync
    synced.directory.remove_from_group("google_apps_plugin", "erin")
    synced.directory.add_user("frank", "Frank", "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    report = engine(synced).sync()
    assert report.outcome == RunOutcome.APPLIED, [r.message for r in report.results if not r.ok]
    assert suspended(synced) == ["erin@example.com"] and synced.emulator.get_user("frank@example.com")


# -- whole answers spoiled -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["html", "html-200", "truncated", "missing-part"])
def test_a_spoiled_answer_to_a_write_batch_is_retried(synced, kind):
    synced.directory.add_user("frank", "Frank", "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    synced.directory.add_group("ops", members=("frank", "alice"))
    synced.emulator.thin_pages()
    reads = 3 + 2  # users, groups, and the members of the two groups in one batch… and the links' own reads
    synced.emulator.garble_answers_after(0 if kind == "missing-part" else reads, times=1, kind=kind)
    report = engine(synced).sync()
    assert report.outcome == RunOutcome.APPLIED, [r.message for r in report.results if not r.ok]
    assert synced.emulator.stats()["answers_garbled"] == 1
    assert sorted(synced.emulator.members("ops@example.com")) == ["alice@example.com", "frank@example.com"]
    assert engine(synced).compute_plan().in_sync


@pytest.mark.parametrize("kind", ["html", "html-200", "truncated", "missing-part"])
def test_a_spoiled_answer_to_a_read_never_suspends(synced, kind):
    synced.directory.remove_from_group("google_apps_plugin", "erin")
    synced.emulator.garble_answers_after(0, kind=kind)  # every answer, for as long as the run tries
    with pytest.raises(Exception) as raised:
        engine(synced).sync()
    assert type(raised.value).__name__ == "TargetError", raised.value
    assert suspended(synced) == [] and writes(synced.emulator) == []


def test_the_cli_reports_a_spoiled_read_in_one_line(synced, capsys):
    synced.emulator.garble_answers_after(0, kind="html-200")
    code, out = run_cli(synced, capsys, "test")
    assert code == 1 and "Traceback" not in out and "not a JSON answer" in out, out


@pytest.mark.parametrize(
    "status, reason, fix", [(503, "backendError", "run it again later"), (403, "forbidden", "run 'google-sync check'")]
)
def test_a_failed_list_names_what_it_read_and_the_fix(synced, status, reason, fix):
    synced.directory.remove_from_group("google_apps_plugin", "erin")
    synced.emulator.fail_next(1000, status=status, reason=reason)  # every call, for as long as the run retries
    snapshot = engine(synced).snapshot()
    message = str(snapshot.google_error)
    assert message.startswith(f"cannot read Google's users: {status} ") and fix in message, message
    assert snapshot.plan is None and suspended(synced) == [] and writes(synced.emulator) == []


# -- per-part errors and tokens ------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, reason",
    [
        (500, "backendError"),
        (503, "backendError"),
        (429, "rateLimitExceeded"),
        (403, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
        (403, "quotaExceeded"),
        (412, "conditionNotMet"),
    ],
)
def test_transient_part_errors_are_retried(synced, status, reason):
    synced.directory.add_user("frank", "Frank", "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    synced.directory.remove_from_group("google_apps_plugin", "erin")
    synced.emulator.fail_next(4, status=status, reason=reason)
    report = engine(synced).sync()
    assert report.outcome == RunOutcome.APPLIED, [r.message for r in report.results if not r.ok]
    assert suspended(synced) == ["erin@example.com"] and synced.emulator.get_user("frank@example.com")


def test_a_permanent_refusal_names_the_object(synced):
    synced.directory.add_user("frank", "Frank", "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    clock = Clock()
    target = engine(synced, clock)
    synced.emulator.reset_calls()
    plan = target.compute_plan()
    synced.emulator.fail_next(1, status=403, reason="forbidden")
    report = target._run("cli", lambda: plan)
    failure = next(result for result in report.results if not result.ok)
    assert "frank@example.com" in failure.change.subject and "google-sync check" in failure.message
    assert "\n" not in failure.message


def test_a_token_that_expires_mid_run_is_renewed(synced):
    synced.directory.add_user("frank", "Frank", "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    sync = engine(synced)
    plan = sync.compute_plan()
    synced.emulator.expire_tokens()
    report = sync._run("cli", lambda: plan)
    assert report.outcome == RunOutcome.APPLIED and synced.emulator.get_user("frank@example.com")


@pytest.mark.parametrize("retry_after, least, most", [(None, 0, 5), (30, 30, 40)])
def test_a_429_waits_as_long_as_its_retry_after_asks(synced, retry_after, least, most):
    synced.directory.add_user("frank", "Frank", "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    clock = Clock()
    sync = engine(synced, clock)
    plan = sync.compute_plan()
    synced.emulator.fail_next(1, status=429, reason="rateLimitExceeded", retry_after=retry_after)
    started = clock()
    report = sync._run("cli", lambda: plan)
    assert report.outcome == RunOutcome.APPLIED and synced.emulator.get_user("frank@example.com")
    assert least <= clock() - started <= most
