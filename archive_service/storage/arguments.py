"""The rules every backend applies to what callers pass to ``put``/``get``.

Kept in one place so every backend refuses the same things: a contract test that passes on the
filesystem store must not start failing on S3 because one backend was laxer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from archive_service.errors import IntegrityFailure
from archive_service.storage.errors import InvalidObjectArgument

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# RFC 9110 token "/" token, plus optional parameters; printable ASCII only (HTTP header-safe).
_CONTENT_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(;[ -~]*)?")
MAX_CONTENT_TYPE_LENGTH = 255


def normalize_sha256(sha256: str) -> str:
    """The hash in the one spelling stores compare and record: 64 lower-case hex digits."""
    normalized = sha256.lower() if isinstance(sha256, str) else ""
    if not _SHA256_HEX.fullmatch(normalized):
        raise InvalidObjectArgument("sha256", "The SHA-256 must be 64 hexadecimal digits.")
    return normalized


def validate_content_type(content_type: str) -> str:
    """A media type that can travel as an HTTP header and S3 metadata unchanged."""
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE_LENGTH
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise InvalidObjectArgument(
            "content_type", "The content type must be an ASCII media type such as application/pdf."
        )
    return content_type


def normalize_retain_until(retain_until: dt.datetime, now: dt.datetime) -> dt.datetime:
    """Retention as every backend records it: aware UTC, in the future, whole seconds.

    Rounded *up* to the second because S3 Object Lock dates are coarser than Python's; rounding
    down would shorten the retention the caller asked for.
    """
    if not isinstance(retain_until, dt.datetime) or retain_until.utcoffset() is None:
        raise InvalidObjectArgument(
            "retain_until", "The retention date must be a timezone-aware datetime."
        )
    utc = retain_until.astimezone(dt.UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + dt.timedelta(seconds=1)
    if utc <= now:
        raise InvalidObjectArgument("retain_until", "The retention date must be in the future.")
    return utc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def require_digest(key: str, actual: str, expected: str, what: str) -> None:
    """Refuse to go on when bytes do not hash to what the caller recorded.

    :param what: which bytes, for the message: "the data to store", "the stored object".
    """
    if actual != expected:
        raise IntegrityFailure(
            f"SHA-256 mismatch for {what} under key {key}: expected {expected}, got {actual}. "
            "The bytes were not used."
        )
