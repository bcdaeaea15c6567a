"""config_file's writers for the Groups and Attributes pages, on the shipped example: comments kept, result valid."""

import shutil
from pathlib import Path

import pytest

from app_google_sync.libraries.core.errors import ConfigError
from app_google_sync.libraries.settings import config, config_file

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "google_sync.conf.example"


@pytest.fixture
def example(tmp_path):
    path = tmp_path / "google_sync.conf"
    shutil.copy(EXAMPLE, path)
    return str(path)


def comments(path) -> list[str]:
    return [line for line in Path(path).read_text().splitlines() if line.lstrip().startswith("#")]


def test_every_writer_keeps_the_comments_and_leaves_a_valid_file(example):
    before = comments(example)
    choice = config_file.GroupChoice(
        all_groups=False, groups=("sales", "support"), posting_default="members", posting={"support": "anyone"}
    )
    config_file.save_group_choice(example, ["sales", "support", "hr"], choice)
    config_file.save_attributes(
        example,
        {
            "title": "",
            "department": "ou",
            "phone": "telephoneNumber",
            "mobile": "",
            "employee_id": "employeeNumber",
            "aliases": "",
        },
    )
    config_file.save_org_units(example, config_file.check_org_units("attribute", "departmentNumber", "/Staff"))
    assert comments(example) == before
    settings = config.load(example)
    assert settings.sync.groups == ("sales", "support") and settings.sync.posting_policy == "members"
    assert settings.sync.posting_overrides == (("support", "anyone"),)
    assert (settings.attributes.title, settings.attributes.department, settings.attributes.aliases) == ("", "ou", "")
    assert (settings.sync.org_units, settings.sync.org_unit_root) == ("attribute:departmentNumber", "/Staff")


def test_switching_off_keeps_the_keys_as_empty_lines(example):
    config_file.save_org_units(example, config_file.check_org_units("dn", "", "/Staff"))
    config_file.save_org_units(example, config_file.check_org_units("", "", "/"))
    config_file.save_group_choice(example, ["sales"], config_file.GroupChoice(all_groups=True, groups=("sales",)))
    lines = Path(example).read_text().splitlines()
    assert {"org_units = ", "org_unit_root = /", "groups = *", "exclude_groups = ", "posting_policy = "} <= set(lines)
    assert "[posting_policy]" not in lines


def test_the_group_choice_reads_back_as_written(example):
    config_file.save_group_choice(
        example,
        ["hr", "sales"],
        config_file.GroupChoice(all_groups=True, groups=("sales",), create_missing_members=True),
    )
    choice = config_file.group_choice(config_file.read(example))
    assert choice.all_groups and choice.exclude == ("hr",) and choice.create_missing_members
    assert choice.chosen("sales") and not choice.chosen("hr") and choice.chosen("new-group")


@pytest.mark.parametrize(
    ("source", "attribute", "root", "expected"),
    [
        ("", "", "", ("", "/")),
        ("dn", "x", " Staff/EMEA/ ", ("dn", "/Staff/EMEA")),
        ("attribute", "ou", "/", ("attribute:ou", "/")),
    ],
)
def test_org_units_are_normalised_as_config_load_reads_them(source, attribute, root, expected):
    units = config_file.check_org_units(source, attribute, root)
    assert (units.setting, units.root) == expected


@pytest.mark.parametrize(
    ("source", "attribute", "root"),
    [("tree", "", "/"), ("attribute", "", "/"), ("attribute", "1ou", "/"), ("dn", "", "/a//b")],
)
def test_bad_org_units_are_refused(source, attribute, root):
    with pytest.raises(ConfigError):
        config_file.check_org_units(source, attribute, root)


def test_names_that_cannot_be_listed_are_refused(example):
    with pytest.raises(ConfigError, match="cannot be listed"):
        config_file.save_group_choice(
            example, ["Domain Admins"], config_file.GroupChoice(all_groups=False, groups=("Domain Admins",))
        )
