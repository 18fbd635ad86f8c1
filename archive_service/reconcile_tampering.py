"""What reconcile checks beyond rows and objects: signs that someone worked on the store itself.

* **Delete markers.** The service never deletes, so every delete marker in the store is someone
  hiding an object with a DELETE that names no version — which S3 allows even under a
  COMPLIANCE lock. The versions beneath stay locked and readable by version id (downloads name
  the recorded version and still work), but a plain listing forgets them: anchors of the audit
  log, journals and exports alike. Read from :meth:`ObjectStore.iter_versions`; the filesystem
  store has no markers (files removed there leave nothing to list).
* **Unanchored audit events**, found by the audit room
  (:func:`archive_service.audit.anchors.unanchored_events`) from the same listing; this module
  only words them for reconcile's report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from archive_service.audit.anchors import CHECKPOINT_PREFIX, UnanchoredEvents
from archive_service.storage import ObjectVersion


@dataclass(frozen=True)
class HiddenObject:
    """A delete marker: the key's versions beneath it are hidden from plain reads and listings."""

    key: str
    #: What the key holds: ``audit anchor``, ``journal object`` or ``object``.
    what: str
    marker_version_id: str
    #: When the marker was placed, as the server says.
    hidden_at: dt.datetime | None
    #: The versions it hides (still locked, still readable by version id), newest first.
    hidden_versions: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "what": self.what,
            "marker_version_id": self.marker_version_id,
            "hidden_at": self.hidden_at.isoformat() if self.hidden_at else None,
            "hidden_versions": list(self.hidden_versions),
        }


def _what(key: str) -> str:
    if key.startswith(CHECKPOINT_PREFIX):
        return "audit anchor"
    if key.startswith("journals/"):
        return "journal object"
    return "object"


def hidden_objects(versions: Iterable[ObjectVersion]) -> list[HiddenObject]:
    """Every delete marker among ``versions`` (grouped by key, newest first, as listed)."""
    by_key: dict[str, list[ObjectVersion]] = {}
    for version in versions:
        by_key.setdefault(version.key, []).append(version)
    hidden = []
    for key, history in by_key.items():
        for position, entry in enumerate(history):
            if not entry.delete_marker:
                continue
            beneath = tuple(v.version_id for v in history[position + 1 :] if not v.delete_marker)
            hidden.append(
                HiddenObject(key, _what(key), entry.version_id, entry.modified, beneath)
            )
    return hidden


def describe_tampering(
    hidden: Iterable[HiddenObject], unanchored: UnanchoredEvents | None
) -> Iterable[str]:
    """Reconcile's lines about tampering with the store, for people."""
    hidden = list(hidden)
    if hidden:
        yield (
            f"SERIOUS: {len(hidden)} delete marker(s) — someone deleted objects of the archive "
            "without naming a version (the service never deletes). The versions beneath are "
            "still locked and are read by version id, but a plain listing no longer shows them; "
            "find out who holds delete permission on the bucket:"
        )
        for item in hidden:
            when = item.hidden_at.isoformat(timespec="seconds") if item.hidden_at else "?"
            beneath = ", ".join(item.hidden_versions) or "no version"
            yield f"  {item.what} {item.key}: hidden at {when} (hides {beneath})"
    if unanchored is not None:
        span = (
            f"#{unanchored.first_seq}"
            if unanchored.first_seq == unanchored.last_seq
            else f"#{unanchored.first_seq}–#{unanchored.last_seq}"
        )
        yield (
            f"SERIOUS: audit events {span} (the oldest from "
            f"{unanchored.oldest.isoformat(timespec='seconds')}) are older than the anchoring "
            f"window but no anchor covers them (the newest anchor names #{unanchored.anchored_seq})"
            ": anchors were removed, or the process that wrote the events was killed and has "
            "not started again, or no TSA answered. Run `archive-service audit verify`."
        )
