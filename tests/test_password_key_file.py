"""The key of the password fingerprints lives in a 0600 file under state_dir/secrets, never in state.db."""

import stat
from pathlib import Path

from app_google_sync import cli
from app_google_sync.libraries.state.store import Store
from app_google_sync.libraries.sync.engine import SyncEngine
from app_google_sync.libraries.sync.plan import SetPassword

NAMES = ("password_fingerprint_key", "password_salt_key")


def database_bytes(settings) -> bytes:
    """state.db as a copy of it would hold it, its write-ahead log included."""
    path = Path(settings.sync.state_dir) / "state.db"
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_a_new_key_is_a_private_file_and_not_in_the_database(env, capsys):
    env.directory.add_user("alice", "Alice", "Martin", password="Secret-Password-1", groups=("google_apps_plugin",))
    assert cli.main(["--config", str(env.config_path), "sync"]) == 0
    settings = env.settings
    secrets_dir = Path(settings.sync.secrets_dir)
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    for name in NAMES:
        path = secrets_dir / f"{name}.key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        key = path.read_text().strip()
        assert len(key) == 64 and key.encode() not in database_bytes(settings)
        assert Store(settings.sync.database).get_value(name) is None


def test_a_key_kept_in_the_database_by_an_older_version_moves_out_and_fingerprints_still_match(env, capsys):
    env.directory.add_user("alice", "Alice", "Martin", password="Secret-Password-1", groups=("google_apps_plugin",))
    assert cli.main(["--config", str(env.config_path), "sync"]) == 0
    settings = env.settings
    store = Store(settings.sync.database)
    fingerprint = store.links().links[0].password_fingerprint
    assert fingerprint
    # Put the installation back as an older version left it: the keys in state.db, no key file.
    keys = {}
    for name in NAMES:
        path = Path(settings.sync.secrets_dir) / f"{name}.key"
        keys[name] = path.read_text().strip()
        path.unlink()
        store.set_value(name, keys[name])
    assert keys["password_fingerprint_key"].encode() in database_bytes(settings)

    plan = SyncEngine(settings).test().plan  # the first use moves the keys out
    assert (
        plan.of_type(SetPassword) == [] and plan.in_sync
    )  # the old fingerprints still match: no password pushed again
    for name in NAMES:
        path = Path(settings.sync.secrets_dir) / f"{name}.key"
        assert path.read_text().strip() == keys[name] and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert store.get_value(name) is None
        assert keys[name].encode() not in database_bytes(settings)  # a copied database alone holds no key
    env.directory.set_password("alice", "Another-Password-2")
    assert [change.email for change in SyncEngine(settings).test().plan.of_type(SetPassword)] == ["alice@example.com"]
    assert store.links().links[0].password_fingerprint == fingerprint


def test_a_damaged_key_file_is_one_line_naming_the_file(env, capsys):
    settings = env.settings
    SyncEngine(settings)
    (Path(settings.sync.secrets_dir) / "password_fingerprint_key.key").write_text("not hex\n")
    code = cli.main(["--config", str(env.config_path), "test"])
    err = capsys.readouterr().err
    assert code == 1 and "password_fingerprint_key.key is damaged" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_db_new_keys_makes_new_keys_and_every_password_goes_once_more(env, capsys):
    env.directory.add_user("alice", "Alice", "Martin", password="Secret-Password-1", groups=("google_apps_plugin",))
    assert cli.main(["--config", str(env.config_path), "sync"]) == 0
    secrets_dir = Path(env.settings.sync.secrets_dir)
    before = {name: (secrets_dir / f"{name}.key").read_text() for name in NAMES}
    capsys.readouterr()
    assert cli.main(["--config", str(env.config_path), "db", "new-keys"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Deleted ") and "every password is pushed once more" in out
    assert not any((secrets_dir / f"{name}.key").exists() for name in NAMES)
    plan = SyncEngine(env.settings).compute_plan()
    assert [change.subject for change in plan.of_type(SetPassword)] == ["alice@example.com"]
    assert all((secrets_dir / f"{name}.key").read_text() != before[name] for name in NAMES)
