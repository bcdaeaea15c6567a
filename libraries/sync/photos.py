"""User photos: which images Google takes, the fingerprint that says a photo changed, and the wire encoding.

Google's reference for users.photos.update: the photo is sent as ``photoData`` in web-safe base64 with a
``mimeType`` of JPEG, PNG, GIF, BMP or TIFF, and Google downsizes whatever it gets to 96x96 pixels. It
documents no byte ceiling; this tool sets one (MAX_PHOTO_BYTES) because a photo travels as a part of a
batch request, and a directory photo bigger than that is far more than a 96x96 thumbnail needs.
"""

from __future__ import annotations

import base64
import hashlib

MAX_PHOTO_BYTES = 512 * 1024
# The first bytes of each image format Google accepts.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def photo_type(data: bytes) -> str:
    """Google's mimeType for the image, or '' when it is none of the formats Google takes."""
    return next((kind for signature, kind in _SIGNATURES if data.startswith(signature)), "")


def photo_problem(data: bytes) -> str:
    """Why Google would not get this photo ('' when it would): the type and the size, checked before sending."""
    if not photo_type(data):
        return (
            "not a JPEG, PNG, GIF, BMP or TIFF image (the only types Google takes); store one of those in the directory"
        )
    if len(data) > MAX_PHOTO_BYTES:
        return (
            f"{len(data):,} bytes, more than the {MAX_PHOTO_BYTES:,} bytes ({MAX_PHOTO_BYTES // 1024} KiB) this tool sends "
            "(Google shows it at 96x96 pixels anyway); store a smaller photo in the directory"
        )
    return ""


def fingerprint(data: bytes) -> str:
    """What the links keep of the photo last pushed: a digest, so an unchanged photo is never sent again."""
    return hashlib.sha256(data).hexdigest()


def web_safe(data: bytes) -> str:
    """photoData: base64 with - and _ for + and / (RFC 4648's URL alphabet), as Google's reference asks."""
    return base64.urlsafe_b64encode(data).decode("ascii")
