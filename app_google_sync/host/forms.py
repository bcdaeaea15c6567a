"""Reading and validating the console's forms.

Plain functions over ``request.form`` rather than WTForms classes: the forms
are few, their checkbox lists are built from the directory at request time,
and the templates want full control of the markup. CSRF is checked for every
POST by ``CSRFProtect`` before any of this runs. Passwords are validated here
but never kept on a form object, so a re-rendered form cannot echo them.
"""

from __future__ import annotations

import dataclasses
import re

UID_PATTERN = re.compile(r"[a-z][a-z0-9._-]{0,31}")
GROUP_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,31}")
MAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
RESERVED_UIDS = frozenset({"root", "nobody", "winadmin", "nomembers"})
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 100  # Google's limit for a cleartext password
MAX_NAME_LENGTH = 60  # Google's limit for a given or family name
MAX_DESCRIPTION_LENGTH = 200


@dataclasses.dataclass
class UserForm:
    uid: str = ""
    given_name: str = ""
    family_name: str = ""
    mail: str = ""
    groups: set[str] = dataclasses.field(default_factory=set)
    switches: set[str] = dataclasses.field(default_factory=set)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_request(cls, form, uid: str | None = None) -> UserForm:
        """The submitted values (``uid`` fixed for an edit), stripped."""
        return cls(
            uid=uid if uid is not None else form.get("uid", "").strip(),
            given_name=form.get("given_name", "").strip(),
            family_name=form.get("family_name", "").strip(),
            mail=form.get("mail", "").strip(),
            groups=set(form.getlist("groups")),
            switches=set(form.getlist("switches")),
        )

    def validate(self, new: bool) -> bool:
        if new:
            self._check_uid()
        self._check_name("given_name", self.given_name, "First name")
        self._check_name("family_name", self.family_name, "Last name")
        if self.mail and not MAIL_PATTERN.fullmatch(self.mail):
            self.errors["mail"] = "Enter a valid email address, like name@example.com."
        return not self.errors

    def _check_uid(self) -> None:
        if not self.uid:
            self.errors["uid"] = "Username is required."
        elif not UID_PATTERN.fullmatch(self.uid):
            self.errors["uid"] = (
                "A username starts with a lowercase letter and holds only lowercase letters, "
                "digits, dots, hyphens and underscores (32 characters at most)."
            )
        elif self.uid in RESERVED_UIDS:
            self.errors["uid"] = f"The username {self.uid!r} is reserved by the system."

    def _check_name(self, field: str, value: str, label: str) -> None:
        if not value:
            self.errors[field] = f"{label} is required."
        elif len(value) > MAX_NAME_LENGTH:
            self.errors[field] = f"{label} is at most {MAX_NAME_LENGTH} characters."
        elif CONTROL_CHARACTERS.search(value):
            self.errors[field] = f"{label} cannot contain control characters."


def password_error(password: str, confirm: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must be at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password must be at most {MAX_PASSWORD_LENGTH} characters."
    if CONTROL_CHARACTERS.search(password):
        # A NUL ends the password for C code (PAM, crypt, slapd's checks): the stored hash would not be what was typed.
        return "The password cannot hold control characters (such as NUL, tab or a line break): type it again without them."
    if password != confirm:
        return "The passwords do not match."
    return None


@dataclasses.dataclass
class GroupForm:
    name: str = ""
    description: str = ""
    errors: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_request(cls, form, name: str | None = None) -> GroupForm:
        return cls(
            name=name if name is not None else form.get("name", "").strip(),
            description=form.get("description", "").strip(),
        )

    def validate(self, new: bool) -> bool:
        if new:
            if not self.name:
                self.errors["name"] = "Group name is required."
            elif not GROUP_PATTERN.fullmatch(self.name):
                self.errors["name"] = (
                    "A group name starts with a letter and holds only letters, digits, dots, "
                    "hyphens and underscores (32 characters at most)."
                )
            elif self.name.endswith("_plugin"):
                self.errors["name"] = "Names ending in _plugin are reserved for the groups of installed apps."
        if len(self.description) > MAX_DESCRIPTION_LENGTH:
            self.errors["description"] = f"The description is at most {MAX_DESCRIPTION_LENGTH} characters."
        elif CONTROL_CHARACTERS.search(self.description):
            self.errors["description"] = "The description cannot contain control characters."
        return not self.errors
