"""The Groups page: choosing the groups, posting policies, members without Google Apps, groups that left (real slapd + emulator)."""

import re

from console_helpers import add_people, text_of, wait_for_run

from app_google_sync.libraries.settings import config, config_file


def preview(console):
    response = console.post("/test")
    assert response.status_code == 200
    return text_of(response)


def synchronize(console, **form):
    preview(console)
    response = console.post("/sync", form)
    assert response.status_code == 302, text_of(response)
    wait_for_run(console)
    status = console.client.get(response.headers["Location"] + "/status").get_json()
    assert status["outcome"] in ("applied", "in_sync"), status


def save(console, **form):
    return console.post("/groups", form)


def organisation(env):
    directory = env.directory
    add_people(directory, "alice", "bob")
    directory.add_group_of_names("sales", [directory.user_dn("alice")], description="Sales team")
    directory.add_group_of_names("emea", [directory.user_dn("bob"), directory.group_dn("sales")], description="Europe")
    directory.add_group("support", members=("alice", "bob"), description="Help desk")


def test_the_page_lists_each_group_with_members_and_nested_groups(env, console):
    organisation(env)
    env.directory.add_group("mail_plugin")  # another app's switch: never listed
    response = console.get("/groups")
    text = text_of(response)
    assert response.status_code == 200
    assert "emea Synchronized emea@example.com Europe 1 sales" in text
    assert "sales Synchronized sales@example.com Sales team 1 —" in text
    assert "support Synchronized support@example.com Help desk 2 —" in text
    assert "mail_plugin" not in text.partition("Not listed")[0]
    page = response.get_data(as_text=True)
    assert re.search(r'name="all_groups" value="yes" id="gs-all-groups" checked', page)
    assert len(re.findall(r'name="group" value="\w+" id="gs-group-\d+" aria-label="[^"]+" checked', page)) == 3


def test_choosing_groups_writes_the_file_keeps_its_comments_and_the_test_shows_the_effect(env, console):
    organisation(env)
    with open(env.config_path, "a") as handle:
        handle.write("# chosen by the data protection officer\n")
    response = save(console, group=["sales", "emea"])  # All groups off
    assert response.status_code == 302 and response.headers["Location"].endswith("/groups?saved=1")
    written = env.config_path.read_text()
    assert "groups = emea sales" in written and "# chosen by the data protection officer" in written
    assert config.load(str(env.config_path)).sync.groups == ("emea", "sales")
    page = text_of(console.get("/groups?saved=1"))
    assert "Groups saved." in page and "Run the test synchronization to preview the effect" in page
    assert 'href="/app/google_sync/test"' in console.get("/groups?saved=1").get_data(as_text=True)
    plan = preview(console)
    assert "create group sales@example.com" in plan and "create group emea@example.com" in plan
    assert "support@example.com" not in plan

    save(console, all_groups="yes", group=["sales", "support"])  # everything but emea
    choice = config.load(str(env.config_path)).sync
    assert (choice.groups, choice.exclude_groups) == (("*",), ("emea",))
    plan = preview(console)
    assert "create group support@example.com" in plan and "create group emea@example.com" not in plan


def test_nothing_ticked_without_all_groups_synchronizes_no_group(env, console):
    organisation(env)
    save(console)
    assert config.load(str(env.config_path)).sync.groups == ()
    assert "groups = none" in env.config_path.read_text()


def test_groups_not_in_the_directory_keep_their_place_in_the_file(env, console):
    organisation(env)
    config_file.update(str(env.config_path), "sync", {"groups": "sales archive", "exclude_groups": "old"})
    save(console, group=["support"])
    sync = config.load(str(env.config_path)).sync
    assert sync.groups == ("support", "archive") and sync.exclude_groups == ("old",)


def test_posting_policies_are_saved_need_their_scope_and_are_applied(env, console):
    organisation(env)
    settings_page = console.get("/settings").get_data(as_text=True)
    assert "apps.groups.settings" not in settings_page
    page = console.get("/groups").get_data(as_text=True)
    assert '<option value="default" selected>Default (not managed)</option>' in page
    assert "needs the apps.groups.settings scope" in text_of(console.get("/groups"))

    response = save(
        console,
        all_groups="yes",
        group=["sales", "support", "emea"],
        posting_default="members",
        **{"posting:support": "anyone", "posting:emea": "off"},
    )
    assert response.status_code == 302
    written = env.config_path.read_text()
    assert "posting_policy = members" in written and "[posting_policy]\nemea = \nsupport = anyone\n" in written
    sync = config.load(str(env.config_path)).sync
    assert sync.posting_policy == "members" and dict(sync.posting_overrides) == {"support": "anyone", "emea": ""}
    flashed = text_of(console.get("/groups"))
    assert "Posting policies need the apps.groups.settings scope" in flashed
    page = console.get("/groups").get_data(as_text=True)
    assert re.search(
        r'name="posting:support"[^>]*>\s*<option value="default">Default \(members only\)</option>\s*<option value="off">',
        page,
    )
    assert '<option value="anyone" selected>Anyone on the internet</option>' in page
    assert "https://www.googleapis.com/auth/apps.groups.settings" in console.get("/settings").get_data(as_text=True)

    plan = preview(console)
    assert "set posting sales@example.com" in plan and "set posting support@example.com" in plan
    assert "set posting emea@example.com" not in plan
    synchronize(console)
    assert env.emulator.group_settings("sales@example.com")["whoCanPostMessage"] == "ALL_MEMBERS_CAN_POST"
    support = env.emulator.group_settings("support@example.com")
    assert (support["whoCanPostMessage"], support["messageModerationLevel"]) == (
        "ANYONE_CAN_POST",
        "MODERATE_NON_MEMBERS",
    )

    save(
        console,
        all_groups="yes",
        group=["sales", "support", "emea"],
        posting_default="members",
        **{"posting:sales": "domain", "posting:support": "default"},
    )
    assert "[posting_policy]\nsales = domain\n" in env.config_path.read_text()
    synchronize(console)
    assert env.emulator.group_settings("sales@example.com")["whoCanPostMessage"] == "ALL_IN_DOMAIN_CAN_POST"


def test_an_unknown_posting_policy_is_refused(env, console):
    organisation(env)
    response = save(console, all_groups="yes", group=["sales"], posting_default="everybody")
    assert response.status_code == 400 and "use one of members, domain, anyone" in text_of(response)


def test_members_without_google_apps_are_left_out_or_synchronized_by_the_switch(env, console):
    add_people(env.directory, "alice")
    add_people(env.directory, "carol", groups=())
    env.directory.add_group("sales", members=("alice", "carol"))
    assert "1 member(s) not synchronized to Google, left out of the group: carol" in preview(console)
    page = console.get("/groups").get_data(as_text=True)
    assert re.search(r'name="create_missing_members" value="yes" id="gs-missing-members">', page)  # off
    save(console, all_groups="yes", group=["sales"], create_missing_members="yes")
    assert config.load(str(env.config_path)).sync.create_missing_members
    assert re.search(r'id="gs-missing-members" checked', console.get("/groups").get_data(as_text=True))
    plan = preview(console)
    assert "create user carol@example.com" in plan and "add member sales@example.com ← carol@example.com" in plan
    save(console, all_groups="yes", group=["sales"])
    assert "create_missing_members = no" in env.config_path.read_text()


def test_a_removed_group_is_deleted_only_with_confirmation_and_only_if_we_created_it(env, console):
    add_people(env.directory, "alice")
    env.directory.add_group("sales", members=("alice",))
    env.emulator.add_group("legacy@example.com", "legacy")  # existed in Google first: adopted
    env.directory.add_group("legacy", members=("alice",))
    synchronize(console)
    assert "None: every group this tool synchronized is still synchronized" in text_of(console.get("/groups"))
    assert console.get("/groups/removed/sales@example.com/delete").status_code == 404  # still synchronized

    save(console, all_groups="yes", group=[])  # both unticked: excluded
    text = text_of(console.get("/groups"))
    assert "Groups no longer synchronized 2" in text and "as they are, members frozen" in text
    assert "legacy@example.com Adopted: it existed in Google before this tool linked it" in text
    assert "sales@example.com Created by this tool Delete…" in text
    page = console.get("/groups").get_data(as_text=True)
    assert 'href="/app/google_sync/groups/removed/sales@example.com/delete"' in page
    assert "/groups/removed/legacy@example.com/delete" not in page
    assert "group no longer synchronized" in preview(console)

    confirm = console.get("/groups/removed/sales@example.com/delete")
    assert confirm.status_code == 200 and "To confirm, type sales@example.com" in text_of(confirm)
    wrong = console.post("/groups/removed/sales@example.com/delete", {"confirm": "sales"})
    assert wrong.status_code == 400 and "Nothing was deleted" in text_of(wrong)
    assert env.emulator.get_group("sales@example.com") is not None
    assert env.emulator.members("sales@example.com") == ["alice@example.com"]

    adopted = console.post("/groups/removed/legacy@example.com/delete", {"confirm": "legacy@example.com"})
    assert adopted.status_code == 409 and "cannot be deleted here" in text_of(adopted)
    assert env.emulator.get_group("legacy@example.com") is not None

    done = console.post("/groups/removed/sales@example.com/delete", {"confirm": " Sales@Example.com "})
    assert done.status_code == 302
    assert "Group sales@example.com deleted from Google." in text_of(console.get("/groups"))
    assert env.emulator.get_group("sales@example.com") is None
    assert console.get("/groups/removed/sales@example.com/delete").status_code == 404


def test_markup_in_group_data_is_escaped(env, console):
    env.directory.add_group("team", description="<script>alert(1)</script>")
    page = console.get("/groups").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_incomplete_settings_are_explained(fresh_console):
    response = fresh_console.get("/groups")
    assert response.status_code == 200 and "Complete the settings first" in text_of(response)


def test_a_group_whose_name_cannot_be_listed_follows_all_groups(env, console):
    organisation(env)
    env.directory.add_group("Domain Admins", members=("alice",))
    text = text_of(console.get("/groups"))
    assert (
        "Domain Admins Synchronized domain admins@example.com Its name holds a space or a comma: it follows All groups. 1 — default"
        in text
    )
    response = save(console, all_groups="yes", group=["sales", "Domain Admins"])
    assert response.status_code == 302
    sync = config.load(str(env.config_path)).sync
    assert sync.groups == ("*",) and sync.exclude_groups == ("emea", "support")
