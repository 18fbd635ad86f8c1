"""The filesystem store's retention manifest: the record that makes a data file an object.

Plain JSON, one file per object next to nothing else, so an administrator can read retention
dates and hashes with ``cat`` decades from now without this code.

The manifest also holds the object's *identity* (what the caller said the object is), so it is
exactly as write-once as the rest of the record: written whole with the object, read-only,
linked into place once, never rewritten. Manifests of objects stored without an identity have
no ``identity`` entry at all and read back as before.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from archive_service.errors import IntegrityFailure
from archive_service.storage.protocol import StoredObject

MANIFEST_FORMAT = 1


def encode_manifest(record: StoredObject) -> bytes:
    document = {
        "format": MANIFEST_FORMAT,
        "key": record.key,
        "version_id": record.version_id,
        "sha256": record.sha256,
        "size": record.size,
        "content_type": record.content_type,
        "retain_until": record.retain_until.isoformat(),
        "stored_at": record.stored_at.isoformat(),
    }
    if record.identity:
        document["identity"] = dict(record.identity)
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("ascii")


def decode_manifest(raw: bytes, key: str) -> StoredObject:
    """Parse a manifest written by :func:`encode_manifest` for ``key``.

    Manifests are only ever published whole (written, synced, then linked into place), so one
    that does not parse, or names another key, was altered behind the store's back.

    :raises IntegrityFailure: the manifest is not one this store wrote for ``key``.
    """
    try:
        document: dict[str, Any] = json.loads(raw.decode("ascii"))
        if document["format"] != MANIFEST_FORMAT:
            raise ValueError(f"unknown manifest format {document['format']!r}")
        record = StoredObject(
            key=str(document["key"]),
            version_id=str(document["version_id"]),
            sha256=str(document["sha256"]),
            size=int(document["size"]),
            content_type=str(document["content_type"]),
            retain_until=_utc(document["retain_until"]),
            stored_at=_utc(document["stored_at"]),
            identity=_identity(document.get("identity", {})),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityFailure(f"The manifest of object {key} is unreadable: {exc}.") from None
    if record.key != key:
        raise IntegrityFailure(
            f"The manifest of object {key} names another key ({record.key}); it was moved or "
            "edited outside the store."
        )
    return record


def _identity(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("identity is not a mapping of text to text")
    return dict(value)


def _utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.utcoffset() is None:
        raise ValueError(f"date without time zone: {text!r}")
    return value.astimezone(dt.UTC)
