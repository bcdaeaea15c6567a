"""Groups Settings API v1: groups.get / patch / update on a group's email address.

Settings live in the group record under "settings" (only the values that differ from the
defaults are kept); name and description are the Directory group's own. Booleans are the
strings "true" / "false", as this API has them. The API answers Atom by default (`alt`
absent or `alt=atom`); the Google client always asks for `alt=json`.
"""

import json
from xml.sax.saxutils import escape

from . import errors, rules
from .api_groups import apply_fields as apply_group_fields
from .routing import route

API = "groupssettings"
KIND = "groupsSettings#groups"
MAX_MESSAGE_BYTES = 26214400

_FOUR = ("ALL_MEMBERS", "OWNERS_AND_MANAGERS", "OWNERS_ONLY", "NONE")
_FIVE = ("ALL_MEMBERS", "OWNERS_AND_MANAGERS", "MANAGERS_ONLY", "OWNERS_ONLY", "NONE")

ENUMS = {
    "whoCanJoin": ("ANYONE_CAN_JOIN", "ALL_IN_DOMAIN_CAN_JOIN", "INVITED_CAN_JOIN", "CAN_REQUEST_TO_JOIN"),
    "whoCanViewMembership": ("ALL_IN_DOMAIN_CAN_VIEW", "ALL_MEMBERS_CAN_VIEW", "ALL_MANAGERS_CAN_VIEW"),
    "whoCanViewGroup": ("ANYONE_CAN_VIEW", "ALL_IN_DOMAIN_CAN_VIEW", "ALL_MEMBERS_CAN_VIEW", "ALL_MANAGERS_CAN_VIEW"),
    "whoCanInvite": ("ALL_MEMBERS_CAN_INVITE", "ALL_MANAGERS_CAN_INVITE", "ALL_OWNERS_CAN_INVITE", "NONE_CAN_INVITE"),
    "whoCanAdd": ("ALL_MEMBERS_CAN_ADD", "ALL_MANAGERS_CAN_ADD", "ALL_OWNERS_CAN_ADD", "NONE_CAN_ADD"),
    "whoCanPostMessage": (
        "NONE_CAN_POST",
        "ALL_MANAGERS_CAN_POST",
        "ALL_MEMBERS_CAN_POST",
        "ALL_OWNERS_CAN_POST",
        "ALL_IN_DOMAIN_CAN_POST",
        "ANYONE_CAN_POST",
    ),
    "messageModerationLevel": (
        "MODERATE_ALL_MESSAGES",
        "MODERATE_NON_MEMBERS",
        "MODERATE_NEW_MEMBERS",
        "MODERATE_NONE",
    ),
    "spamModerationLevel": ("ALLOW", "MODERATE", "SILENTLY_MODERATE", "REJECT"),
    "replyTo": (
        "REPLY_TO_CUSTOM",
        "REPLY_TO_SENDER",
        "REPLY_TO_LIST",
        "REPLY_TO_OWNER",
        "REPLY_TO_IGNORE",
        "REPLY_TO_MANAGERS",
    ),
    "whoCanLeaveGroup": ("ALL_MANAGERS_CAN_LEAVE", "ALL_MEMBERS_CAN_LEAVE", "NONE_CAN_LEAVE"),
    "whoCanContactOwner": (
        "ALL_IN_DOMAIN_CAN_CONTACT",
        "ALL_MANAGERS_CAN_CONTACT",
        "ALL_MEMBERS_CAN_CONTACT",
        "ANYONE_CAN_CONTACT",
        "ALL_OWNERS_CAN_CONTACT",
    ),
    "whoCanApproveMembers": (
        "ALL_MEMBERS_CAN_APPROVE",
        "ALL_MANAGERS_CAN_APPROVE",
        "ALL_OWNERS_CAN_APPROVE",
        "NONE_CAN_APPROVE",
    ),
    "whoCanDiscoverGroup": ("ANYONE_CAN_DISCOVER", "ALL_IN_DOMAIN_CAN_DISCOVER", "ALL_MEMBERS_CAN_DISCOVER"),
    "default_sender": ("DEFAULT_SELF", "GROUP"),
    **{
        name: _FOUR
        for name in (
            "whoCanApproveMessages",
            "whoCanBanUsers",
            "whoCanDeleteAnyPost",
            "whoCanDeleteTopics",
            "whoCanHideAbuse",
            "whoCanLockTopics",
            "whoCanMakeTopicsSticky",
            "whoCanModerateContent",
            "whoCanModerateMembers",
            "whoCanModifyMembers",
            "whoCanMoveTopicsIn",
            "whoCanMoveTopicsOut",
            "whoCanPostAnnouncements",
        )
    },
    **{
        name: _FIVE
        for name in (
            "whoCanAssignTopics",
            "whoCanAssistContent",
            "whoCanEnterFreeFormTags",
            "whoCanMarkDuplicate",
            "whoCanMarkFavoriteReplyOnAnyTopic",
            "whoCanMarkFavoriteReplyOnOwnTopic",
            "whoCanMarkNoResponseNeeded",
            "whoCanModifyTagsAndCategories",
            "whoCanTakeTopics",
            "whoCanUnassignTopic",
            "whoCanUnmarkFavoriteReplyOnAnyTopic",
        )
    },
}
BOOLEANS = (
    "allowExternalMembers",
    "allowGoogleCommunication",
    "allowWebPosting",
    "archiveOnly",
    "enableCollaborativeInbox",
    "favoriteRepliesOnTop",
    "includeCustomFooter",
    "includeInGlobalAddressList",
    "isArchived",
    "membersCanPostAsTheGroup",
    "sendMessageDenyNotification",
    "showInGroupDirectory",
)
TEXTS = {"customFooterText": 1000, "defaultMessageDenyNotificationText": 10000, "primaryLanguage": 40}
# Output-only or deprecated-and-fixed fields: accepted in a request body and ignored.
IGNORED = {
    "kind",
    "email",
    "customRolesEnabledForSettingsToBeMerged",
    "maxMessageBytes",
    "messageDisplayFont",
    "whoCanAddReferences",
}
SCHEMA_FIELDS = set(ENUMS) | set(BOOLEANS) | set(TEXTS) | IGNORED | {"name", "description", "customReplyTo"}

# Google's values for a group just created with the Directory API. Who may post to a new group
# follows the account's Groups sharing settings; "ANYONE_CAN_POST" is the value Google's own
# examples show for an account with default sharing settings.
DEFAULTS = {
    "whoCanJoin": "CAN_REQUEST_TO_JOIN",
    "whoCanViewMembership": "ALL_MEMBERS_CAN_VIEW",
    "whoCanViewGroup": "ALL_MEMBERS_CAN_VIEW",
    "whoCanInvite": "ALL_MANAGERS_CAN_INVITE",
    "whoCanAdd": "ALL_MANAGERS_CAN_ADD",
    "allowExternalMembers": "false",
    "whoCanPostMessage": "ANYONE_CAN_POST",
    "allowWebPosting": "true",
    "primaryLanguage": "en_US",
    "isArchived": "false",
    "archiveOnly": "false",
    "messageModerationLevel": "MODERATE_NONE",
    "spamModerationLevel": "MODERATE",
    "replyTo": "REPLY_TO_IGNORE",
    "includeCustomFooter": "false",
    "customFooterText": "",
    "sendMessageDenyNotification": "false",
    "defaultMessageDenyNotificationText": "",
    "allowGoogleCommunication": "false",
    "membersCanPostAsTheGroup": "false",
    "includeInGlobalAddressList": "true",
    "whoCanLeaveGroup": "ALL_MEMBERS_CAN_LEAVE",
    "whoCanContactOwner": "ANYONE_CAN_CONTACT",
    "whoCanAssignTopics": "NONE",
    "whoCanUnassignTopic": "NONE",
    "whoCanTakeTopics": "NONE",
    "whoCanMarkDuplicate": "NONE",
    "whoCanMarkNoResponseNeeded": "NONE",
    "whoCanMarkFavoriteReplyOnAnyTopic": "NONE",
    "whoCanMarkFavoriteReplyOnOwnTopic": "NONE",
    "whoCanUnmarkFavoriteReplyOnAnyTopic": "NONE",
    "whoCanEnterFreeFormTags": "NONE",
    "whoCanModifyTagsAndCategories": "NONE",
    "favoriteRepliesOnTop": "true",
    "whoCanApproveMembers": "ALL_MANAGERS_CAN_APPROVE",
    "whoCanBanUsers": "OWNERS_AND_MANAGERS",
    "whoCanModifyMembers": "OWNERS_AND_MANAGERS",
    "whoCanApproveMessages": "OWNERS_AND_MANAGERS",
    "whoCanDeleteAnyPost": "OWNERS_AND_MANAGERS",
    "whoCanDeleteTopics": "OWNERS_AND_MANAGERS",
    "whoCanLockTopics": "OWNERS_AND_MANAGERS",
    "whoCanMoveTopicsIn": "OWNERS_AND_MANAGERS",
    "whoCanMoveTopicsOut": "OWNERS_AND_MANAGERS",
    "whoCanPostAnnouncements": "OWNERS_AND_MANAGERS",
    "whoCanHideAbuse": "NONE",
    "whoCanMakeTopicsSticky": "NONE",
    "whoCanModerateMembers": "OWNERS_AND_MANAGERS",
    "whoCanModerateContent": "OWNERS_AND_MANAGERS",
    "whoCanAssistContent": "NONE",
    "enableCollaborativeInbox": "false",
    "whoCanDiscoverGroup": "ALL_IN_DOMAIN_CAN_DISCOVER",
    "default_sender": "DEFAULT_SELF",
}
# The order of Google's JSON answer (fields not listed follow in DEFAULTS order).
_ORDER = (
    "kind",
    "email",
    "name",
    "description",
    "whoCanJoin",
    "whoCanViewMembership",
    "whoCanViewGroup",
    "whoCanInvite",
    "whoCanAdd",
    "allowExternalMembers",
    "whoCanPostMessage",
    "allowWebPosting",
    "primaryLanguage",
    "maxMessageBytes",
    "isArchived",
    "archiveOnly",
    "messageModerationLevel",
    "spamModerationLevel",
    "replyTo",
    "customReplyTo",
    "includeCustomFooter",
    "customFooterText",
    "sendMessageDenyNotification",
    "defaultMessageDenyNotificationText",
    "showInGroupDirectory",
    "allowGoogleCommunication",
    "membersCanPostAsTheGroup",
    "messageDisplayFont",
    "includeInGlobalAddressList",
    "whoCanLeaveGroup",
    "whoCanContactOwner",
    "whoCanAddReferences",
)
# Empty texts are left out of the answer ("has no value in the API's response body").
_OMIT_WHEN_EMPTY = ("customReplyTo", "customFooterText", "defaultMessageDenyNotificationText")


def invalid_value():
    return errors.invalid("Invalid Value")


def settings_resource(record):
    """The groupsSettings#groups resource of a stored group."""
    values = dict(DEFAULTS, **record.get("settings", {}))
    values["showInGroupDirectory"] = "false" if values["whoCanDiscoverGroup"] == "ALL_MEMBERS_CAN_DISCOVER" else "true"
    values.update(
        kind=KIND,
        email=record["email"],
        name=record["name"],
        description=record.get("description", ""),
        maxMessageBytes=MAX_MESSAGE_BYTES,
        messageDisplayFont="DEFAULT_FONT",
        whoCanAddReferences="NONE",
        customRolesEnabledForSettingsToBeMerged="false",
    )
    values.setdefault("customReplyTo", "")
    resource = {name: values[name] for name in _ORDER}
    resource.update({name: value for name, value in values.items() if name not in resource})
    for name in _OMIT_WHEN_EMPTY:
        if resource[name] == "":
            del resource[name]
    return resource


def _find(directory, key):
    """The group named by its email address (or an alias of it); 404 otherwise."""
    record = directory.find_group(key.lower()) if "@" in key else None
    if record is None:
        raise errors.not_found("groupUniqueId")
    return record


def _check_alt(query):
    if query.get("alt", "atom") not in ("atom", "json"):
        raise errors.ApiError(
            400,
            "invalidParameter",
            "Invalid string value: '%s'. Allowed values: [atom, json]" % query["alt"],
            location="alt",
            locationType="parameter",
        )


def render_atom(resource, query):
    """Google's default Atom entry (alt absent or alt=atom); None keeps JSON."""
    if query.get("alt", "atom") != "atom":
        return None
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<entry xmlns="http://www.w3.org/2005/Atom" xmlns:apps="http://schemas.google.com/apps/2006" '
        'xmlns:gd="http://schemas.google.com/g/2005">',
        "<id>tag:googleapis.com,2010:apps:groupssettings:GROUP:%s</id>" % escape(resource.get("email", "")),
        "<title>Groups Resource Entry</title>",
        '<content type="text">%s</content>' % escape(str(resource.get("name", ""))),
        "<author><name>Google</name></author>",
    ]
    for name, value in resource.items():
        if name != "kind":
            parts.append("<apps:%s>%s</apps:%s>" % (name, escape(str(value)), name))
    parts.append("</entry>")
    return {"Content-Type": "application/atom+xml; charset=UTF-8"}, "".join(parts).encode("utf-8")


@route("GET", "{groupUniqueId}", "groupssettings", schema="Groups", api=API, render=render_atom)
def get_settings(req):
    _check_alt(req.query)
    return 200, settings_resource(_find(req.directory, req.params["groupUniqueId"]))


@route("PATCH", "{groupUniqueId}", "groupssettings", schema="Groups", body=True, api=API, render=render_atom)
def patch_settings(req):
    """patch and update (Google documents both with the same semantics here: fields sent change)."""
    _check_alt(req.query)
    record = _find(req.directory, req.params["groupUniqueId"])
    body = req.body
    rules.check_known_fields(body, SCHEMA_FIELDS)
    current = dict(DEFAULTS, **record.get("settings", {}))
    changed = dict(current)
    for name, value in body.items():
        if value is None or name in IGNORED or name in ("name", "description"):
            continue
        changed[name] = _checked(body, name)
    if "showInGroupDirectory" in body and body["showInGroupDirectory"] is not None:
        shown = changed.pop("showInGroupDirectory") == "true"
        if "whoCanDiscoverGroup" not in body:
            if not shown:
                changed["whoCanDiscoverGroup"] = "ALL_MEMBERS_CAN_DISCOVER"
            elif changed["whoCanDiscoverGroup"] == "ALL_MEMBERS_CAN_DISCOVER":
                changed["whoCanDiscoverGroup"] = "ALL_IN_DOMAIN_CAN_DISCOVER"
    _archive_rules(current, changed, body)
    if changed.get("replyTo") == "REPLY_TO_CUSTOM" and not changed.get("customReplyTo"):
        raise invalid_value()
    group_fields = {name: body[name] for name in ("name", "description") if name in body}
    updated = dict(record)
    apply_group_fields(updated, group_fields)
    updated["settings"] = {name: value for name, value in changed.items() if value != DEFAULTS.get(name, "")}
    record.clear()
    record.update(updated)
    req.directory.changed = True
    return 200, settings_resource(record)


route("PUT", "{groupUniqueId}", "groupssettings", schema="Groups", body=True, api=API, render=render_atom)(
    patch_settings
)


def _checked(body, name):
    value = body[name]
    if not isinstance(value, str):
        raise errors.bad_value("resource." + name, "TYPE_STRING", json.dumps(value))
    if name in ENUMS:
        if value not in ENUMS[name]:
            raise invalid_value()
    elif name in BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise invalid_value()
        value = value.lower()
    elif name in TEXTS:
        if len(value) > TEXTS[name]:
            raise invalid_value()
    elif name == "customReplyTo" and value and rules.split_address(value) is None:
        raise invalid_value()
    return value


def _archive_rules(current, changed, body):
    """archiveOnly=true forces NONE_CAN_POST; back to false restores ALL_MANAGERS_CAN_POST."""
    if changed["archiveOnly"] == "true":
        changed["whoCanPostMessage"] = "NONE_CAN_POST"
    elif changed["whoCanPostMessage"] == "NONE_CAN_POST":
        if current["archiveOnly"] == "true" and "whoCanPostMessage" not in body:
            changed["whoCanPostMessage"] = "ALL_MANAGERS_CAN_POST"
        else:
            raise invalid_value()


def group_settings(directory, key):
    """The settings resource of a group (Python API); 404 ApiError if there is none."""
    return settings_resource(_find(directory, key))
