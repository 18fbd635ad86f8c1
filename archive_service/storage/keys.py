"""The one key grammar every backend accepts, so a key valid today stays valid on any backend.

The grammar is the intersection of what S3 and a POSIX filesystem can both hold safely: ASCII
(S3 metadata and many tools insist), ``/``-separated segments of ``[A-Za-z0-9._-]`` (no shell,
URL or path specials), no ``.``/``..`` segments and no ``..`` anywhere (so no path traversal
can be spelled at all), and segments short enough that a filesystem backend can add its own
suffixes and still stay under the usual 255-byte name limit.
"""

from __future__ import annotations

import re

from archive_service.storage.errors import InvalidObjectArgument

MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 200
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_PREFIX_CHARS = re.compile(r"[A-Za-z0-9._/-]*")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if every backend can hold it safely; raise otherwise.

    :raises InvalidObjectArgument: (an :class:`~archive_service.errors.InvalidInput`) naming
        the rule the key breaks.
    """
    if not isinstance(key, str) or not key:
        raise InvalidObjectArgument("key", "The object key is empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidObjectArgument(
            "key", f"The object key is longer than {MAX_KEY_LENGTH} characters."
        )
    if key.startswith("/"):
        raise InvalidObjectArgument("key", "The object key must not start with '/'.")
    for segment in key.split("/"):
        _check_segment(segment)
    return key


def validate_prefix(prefix: str) -> str:
    """Return a listing prefix unchanged if it could start a valid key; raise otherwise.

    Like S3, a prefix is a plain string prefix: ``journals/1`` matches ``journals/12/…``.
    Every segment but the last must be a whole valid segment; the last may be partial or empty.
    """
    if not isinstance(prefix, str):
        raise InvalidObjectArgument("prefix", "The prefix must be a string.")
    if len(prefix) > MAX_KEY_LENGTH or not _PREFIX_CHARS.fullmatch(prefix):
        raise InvalidObjectArgument(
            "prefix",
            "The prefix may only contain ASCII letters, digits, '.', '_', '-' and '/'.",
        )
    if prefix.startswith("/"):
        raise InvalidObjectArgument("prefix", "The prefix must not start with '/'.")
    if ".." in prefix:
        raise InvalidObjectArgument("prefix", "The prefix must not contain '..'.")
    *directories, _partial = prefix.split("/")
    for segment in directories:
        try:
            _check_segment(segment)
        except InvalidObjectArgument as exc:
            raise InvalidObjectArgument("prefix", exc.message) from None
    return prefix


def _check_segment(segment: str) -> None:
    if not segment:
        raise InvalidObjectArgument(
            "key", "The object key has an empty segment ('//' or a trailing '/')."
        )
    if not _SEGMENT.fullmatch(segment):
        raise InvalidObjectArgument(
            "key",
            "Object key segments may only contain ASCII letters, digits, '.', '_' and '-'.",
        )
    if segment == "." or ".." in segment:
        raise InvalidObjectArgument("key", "The object key must not contain '.' segments or '..'.")
    if len(segment) > MAX_SEGMENT_LENGTH:
        raise InvalidObjectArgument(
            "key", f"An object key segment is longer than {MAX_SEGMENT_LENGTH} characters."
        )
