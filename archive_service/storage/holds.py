"""The filesystem store's legal-hold records: an append-only history, one write-once file each.

Layout under the store root::

    holds/<key>/00000001.json   {"format", "key", "version_id", "legal_hold": true, "at"}
    holds/<key>/00000002.json   the next change, and so on

Every change is a new record published like an object (temp file, fsync, read-only, link without
overwrite, fsync the folder), so a crash never leaves half a record that counts, two writers
never overwrite each other (the loser of a link race takes the next number), and the history of
who-held-what-when stays readable with ``cat``. The highest number is the current state.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from archive_service.errors import IntegrityFailure

HOLDS_DIR = "holds"
HOLD_FORMAT = 1
_SUFFIX = ".json"
_DIGITS = 8


def record_name(sequence: int) -> str:
    return f"{sequence:0{_DIGITS}d}{_SUFFIX}"


def record_sequence(name: str) -> int | None:
    """The number in a record's file name, or None for anything else (temp files, strays)."""
    stem = name.removesuffix(_SUFFIX)
    if name == stem or len(stem) != _DIGITS or not stem.isdigit():
        return None
    return int(stem)


def encode_hold(key: str, version_id: str, on: bool, at: dt.datetime) -> bytes:
    document = {
        "format": HOLD_FORMAT,
        "key": key,
        "version_id": version_id,
        "legal_hold": on,
        "at": at.isoformat(),
    }
    return (json.dumps(document, sort_keys=True) + "\n").encode("ascii")


def decode_hold(raw: bytes, key: str, version_id: str) -> bool:
    """Whether the record puts a hold on ``key``'s ``version_id``.

    :raises IntegrityFailure: the record is not one this store wrote for that object (records
        are published whole, so a damaged one was changed behind the store's back).
    """
    try:
        document: dict[str, Any] = json.loads(raw.decode("ascii"))
        if document["format"] != HOLD_FORMAT:
            raise ValueError(f"unknown hold record format {document['format']!r}")
        named = (str(document["key"]), str(document["version_id"]))
        on = document["legal_hold"]
        if not isinstance(on, bool):
            raise TypeError("legal_hold is not true or false")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityFailure(
            f"A legal-hold record of object {key} is unreadable: {exc}."
        ) from None
    if named != (key, version_id):
        raise IntegrityFailure(
            f"A legal-hold record of object {key} names another object ({named[0]}, version "
            f"{named[1]}); it was moved or edited outside the store."
        )
    return on
