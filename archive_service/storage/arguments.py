"""The rules every backend applies to what callers pass to ``put``/``get``.

Kept in one place so every backend refuses the same things: a contract test that passes on the
filesystem store must not start failing on S3 because one backend was laxer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping

from archive_service.errors import IntegrityFailure
from archive_service.storage.errors import IdentityMismatch, InvalidObjectArgument

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


#: Identity entry names: short lower-case words, the same spelling on every backend (S3 user
#: metadata names are case-insensitive, so nothing else would survive the trip).
_IDENTITY_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
#: Identity values: printable ASCII without surrounding spaces (S3 metadata travels as headers).
_IDENTITY_VALUE = re.compile(r"[!-~]([ -~]{0,198}[!-~])?")
MAX_IDENTITY_ENTRIES = 12


def validate_identity(identity: Mapping[str, str] | None) -> dict[str, str]:
    """What an object is, as the caller names it: recorded with it at ``put``, never changed.

    The store does not interpret the entries; it keeps them write-once beside the object and
    compares them on ``get`` (see :func:`require_identity`).
    """
    if identity is None:
        return {}
    if not isinstance(identity, Mapping) or len(identity) > MAX_IDENTITY_ENTRIES:
        raise InvalidObjectArgument(
            "identity", f"The identity must be a mapping of at most {MAX_IDENTITY_ENTRIES} entries."
        )
    checked: dict[str, str] = {}
    for name, value in identity.items():
        if not isinstance(name, str) or not _IDENTITY_NAME.fullmatch(name):
            raise InvalidObjectArgument(
                "identity", f"Identity entry names are short lower-case words, not {name!r}."
            )
        if not isinstance(value, str) or not _IDENTITY_VALUE.fullmatch(value):
            raise InvalidObjectArgument(
                "identity", f"The identity entry {name} must be printable ASCII text."
            )
        checked[name] = value
    return checked


def require_identity(
    recorded: Mapping[str, str], expected: Mapping[str, str] | None
) -> None:
    """Refuse an object whose write-once identity names something other than the caller's record.

    Every entry the caller expects must be recorded with that value; entries the caller does not
    ask about are ignored. An object stored with no identity at all (written before identities
    existed) is accepted — its hash is still checked — and is what reconcile lists as *unbound*.

    The message names which entries differ, never their values: it may reach a client that has
    no business learning which other document or institution the object belongs to.
    """
    if not expected or not recorded:
        return
    differing = [name for name, value in expected.items() if recorded.get(name) != value]
    if differing:
        raise IdentityMismatch(
            "The stored object does not belong to this record: its write-once identity names "
            f"another {', '.join(differing)}. It was not used; the database row was changed "
            "outside the service — alert the archive's administrator (see `archive-service "
            "reconcile`)."
        )
