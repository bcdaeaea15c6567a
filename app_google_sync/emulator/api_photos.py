"""users.photos.* (the thumbnail): photoData in web-safe base64, a mimeType Google takes; kept as sent, shown 96x96."""

import base64
import binascii

from . import errors
from .routing import route

MIME_TYPES = ("JPEG", "PNG", "GIF", "BMP", "TIFF")
PHOTO_FIELDS = {"photoData", "mimeType", "width", "height", "id", "primaryEmail", "kind", "etag"}
SIZE = 96  # Google downsizes every photo to 96x96


def _decoded(text):
    """The bytes of web-safe base64; Google's reference names both '*' and '.' for the '=' padding."""
    if not isinstance(text, str) or not text:
        raise errors.required("photoData")
    try:
        return base64.urlsafe_b64decode(text.replace("*", "=").replace(".", "=").encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise errors.invalid("Invalid Input: photoData") from None


def resource(record):
    photo = record["photo"]
    return {
        "kind": "admin#directory#user#photo",
        "id": record["id"],
        "primaryEmail": record["primaryEmail"],
        "mimeType": photo["mimeType"],
        "width": SIZE,
        "height": SIZE,
        "photoData": photo["photoData"],
        "etag": '"%s"' % photo["etag"],
    }


@route("PUT", "users/{userKey}/photos/thumbnail", "user", schema="UserPhoto", body=True)
def update_photo(req):
    directory, body = req.directory, req.body
    record = directory.user(req.params["userKey"])
    req.lag.check_user(record)
    unknown = set(body) - PHOTO_FIELDS
    if unknown:
        raise errors.invalid('Invalid JSON payload received. Unknown name "%s"' % sorted(unknown)[0])
    data = _decoded(body.get("photoData"))
    mime = (body.get("mimeType") or "JPEG").upper()
    if mime not in MIME_TYPES:
        raise errors.invalid("Invalid Input: mimeType")
    record["photo"] = {
        "mimeType": mime,
        "photoData": base64.urlsafe_b64encode(data).decode("ascii"),
        "etag": base64.urlsafe_b64encode(data[-12:] + len(data).to_bytes(4, "big")).decode("ascii"),
    }
    directory.changed = True
    return 200, resource(record)


route("PATCH", "users/{userKey}/photos/thumbnail", "user", schema="UserPhoto", body=True)(update_photo)


@route("GET", "users/{userKey}/photos/thumbnail", "user", schema="UserPhoto")
def get_photo(req):
    record = req.directory.user(req.params["userKey"])
    if "photo" not in record:
        raise errors.not_found("userKey")
    return 200, resource(record)


@route("DELETE", "users/{userKey}/photos/thumbnail", "user")
def delete_photo(req):
    record = req.directory.user(req.params["userKey"])
    req.lag.check_user(record)
    if record.pop("photo", None) is None:
        raise errors.not_found("userKey")
    req.directory.changed = True
    return 204, None
