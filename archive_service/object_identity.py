"""What each stored object *is*, recorded write-once with it (DESIGN invariant 8).

A version row names its objects by key and hash, but the row lives in a database an insider can
edit: swap two versions' keys (and hashes), move a document to another institution, re-parent a
version — and the hash in the same row still matches. So every object the archive stores also
carries its identity in the store's write-once metadata (S3 user metadata under Object Lock, the
filesystem store's manifest), set once at ``put`` and never changeable:

==================  ========================================================================
``document``        the document id
``institution``     the owning institution's EDRPOU
``version``         the version number the object was written for
``kind``            ``pdf`` (the signed rendition) or ``source`` (the export as uploaded)
``export-sha256``   SHA-256 of the export the object is (``source``) or was rendered from
                    (``pdf``) — what lets reconcile recognise duplicates of a recorded export
==================  ========================================================================

Every read of a version's object (download, verification, renewal) passes the identity its row
implies to the store, which refuses an object recorded as anything else; reconcile compares
them too. A renewal's PDF is written for its own version number; it shares the export object of
the version it renews, so a ``source`` object names the version that first uploaded it (the
root of the ``renews`` chain, :func:`source_versions`).

Objects written before identities existed have none: they are read by their hash alone, and
reconcile lists them as *unbound (legacy)* — nothing can add metadata to a write-once object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PDF = "pdf"
SOURCE = "source"
#: How the rendered PDF names its document in its XMP keywords (render/layout.py), inside the
#: bytes the seal covers; XMP packets are UTF-8 and never compressed in PDF/A.
_NAMED_DOCUMENT = re.compile(
    "документ ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})".encode()
)


@dataclass(frozen=True)
class ObjectIdentity:
    document_id: str
    edrpou: str
    version: int
    kind: str
    export_sha256: str

    def as_metadata(self) -> dict[str, str]:
        """The entries the store records (and compares) for this object."""
        return {
            "document": self.document_id,
            "institution": self.edrpou,
            "version": str(self.version),
            "kind": self.kind,
            "export-sha256": self.export_sha256,
        }


def pdf_identity(
    document_id: str, edrpou: str, version: int, export_sha256: str
) -> dict[str, str]:
    return ObjectIdentity(document_id, edrpou, version, PDF, export_sha256).as_metadata()


def source_identity(
    document_id: str, edrpou: str, source_version: int, export_sha256: str
) -> dict[str, str]:
    return ObjectIdentity(document_id, edrpou, source_version, SOURCE, export_sha256).as_metadata()


def describe(identity: Mapping[str, str]) -> str:
    """One line for reconcile: what an object says it is."""
    return ", ".join(f"{name} {value}" for name, value in sorted(identity.items())) or "nothing"


def export_of(identity: Mapping[str, str]) -> tuple[str, str] | None:
    """(institution, export SHA-256) an object names, if it names both."""
    edrpou, export = identity.get("institution"), identity.get("export-sha256")
    return (edrpou, export) if edrpou and export else None


def named_version(identity: Mapping[str, str]) -> tuple[str, int] | None:
    """(document id, version number) an object names, if it names both."""
    document, version = identity.get("document"), identity.get("version")
    if not document or not version or not version.isdigit():
        return None
    return document, int(version)


def source_versions(rows: Iterable[tuple[int, int, int | None]]) -> dict[int, int]:
    """For each version row of one document, the number its ``source`` object was written for.

    :param rows: (row id, number, renews row id) of the document's versions.
    :returns: row id → the number of the upload at the root of its ``renews`` chain. A chain
        that leaves the document or loops ends at the last row reached, so a re-parented
        renewal expects an identity its export object does not carry and is refused.
    """
    by_id = {row_id: (number, renews) for row_id, number, renews in rows}
    origins: dict[int, int] = {}
    for row_id, (number, renews) in by_id.items():
        seen = {row_id}
        while renews is not None and renews in by_id and renews not in seen:
            seen.add(renews)
            number, renews = by_id[renews]
        origins[row_id] = number
    return origins


def documents_named_in_pdf(pdf: bytes) -> set[str]:
    """The document ids a rendered PDF's XMP keywords name (one for every PDF this archive made)."""
    return {match.decode() for match in _NAMED_DOCUMENT.findall(pdf)}
