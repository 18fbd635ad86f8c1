"""What a download needs to know about a document, in one SQL statement and no ORM objects.

A download is the archive's most frequent request, and loading a ``Document`` with its
versions through the ORM (identity map, relationship loaders, two statements) cost more CPU
than everything else the request does together. Here one Core ``SELECT`` returns the document,
its institution's code and the storage coordinates of each version as plain tuples. Documents
have a handful of versions, so all of them come back: the caller picks one and can still say
which numbers exist.

It also returns what each version's objects must say they are (their write-once identity,
:mod:`archive_service.object_identity`): the store compares it before a byte is read, so the
check costs no extra request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from archive_service.db import Document, DocumentVersion, Institution
from archive_service.errors import ErrorDetail, NotFound
from archive_service.object_identity import pdf_identity, source_identity, source_versions


@dataclass(frozen=True)
class StoredVersion:
    """Where one version's two objects are and what their bytes must hash to."""

    number: int
    object_key: str
    object_version_id: str
    sha256: str
    source_object_key: str
    source_object_version_id: str
    source_sha256: str
    source_media_type: str
    #: What the PDF and the export object must have been stored as (see object_identity).
    pdf_identity: dict[str, str]
    source_identity: dict[str, str]
    #: Whether the version is recorded as under legal hold (downloads compare it with the store).
    legal_hold: bool = False


@dataclass(frozen=True)
class DocumentLocation:
    id: str
    school_year: str
    #: The owning institution's EDRPOU code, which decides who may see the document.
    edrpou: str
    #: Ordered by number, oldest first.
    versions: tuple[StoredVersion, ...]


_DOCUMENTS = Document.__table__.c
_INSTITUTIONS = Institution.__table__.c
_VERSIONS = DocumentVersion.__table__.c

# Table columns, not ORM attributes: an ORM-enabled SELECT costs several times more to run.
# Built once: SQLAlchemy then finds the compiled form in its cache by this very object.
_LOCATE = (
    select(
        _DOCUMENTS.id,
        _DOCUMENTS.school_year,
        _INSTITUTIONS.edrpou,
        _VERSIONS.number,
        _VERSIONS.object_key,
        _VERSIONS.object_version_id,
        _VERSIONS.sha256,
        _VERSIONS.source_object_key,
        _VERSIONS.source_object_version_id,
        _VERSIONS.source_sha256,
        _VERSIONS.source_media_type,
        _VERSIONS.id,
        _VERSIONS.renews_id,
        _VERSIONS.legal_hold,
    )
    .join_from(
        Document.__table__, Institution.__table__, _INSTITUTIONS.id == _DOCUMENTS.institution_id
    )
    .outerjoin(DocumentVersion.__table__, _VERSIONS.document_id == _DOCUMENTS.id)
    .where(_DOCUMENTS.id == bindparam("document_id"))
    .order_by(_VERSIONS.number)
)


def locate_document(session: Session | Connection, document_id: str) -> DocumentLocation | None:
    """The document and its versions' storage coordinates, or None if there is no such id."""
    rows = session.execute(_LOCATE, {"document_id": document_id}).all()
    if not rows:
        return None
    first = rows[0]
    document_id, edrpou = first[0], first[2]
    recorded = [row for row in rows if row[3] is not None]
    origins = source_versions((row[11], row[3], row[12]) for row in recorded)
    versions = tuple(
        StoredVersion(
            number=row[3],
            object_key=row[4],
            object_version_id=row[5],
            sha256=row[6],
            source_object_key=row[7],
            source_object_version_id=row[8],
            source_sha256=row[9],
            source_media_type=row[10],
            pdf_identity=pdf_identity(document_id, edrpou, row[3], row[9]),
            source_identity=source_identity(document_id, edrpou, origins[row[11]], row[9]),
            legal_hold=bool(row[13]),
        )
        for row in recorded
    )
    return DocumentLocation(document_id, first[1], edrpou, versions)


#: A version as read here or as the ORM loads it. Not a Protocol with ``number: int``: mypy does
#: not match an ORM class's ``Mapped[int]`` attribute against one.
V = TypeVar("V", StoredVersion, DocumentVersion)


def pick_version(document_id: str, versions: Sequence[V], number: int | None) -> V:
    """Version ``number`` of a document (the latest if None), or NotFound naming what exists.

    :param versions: the document's versions ordered by number.
    """
    if not versions:
        raise NotFound(f"Document {document_id!r} has no versions.")
    if number is None:
        return versions[-1]
    for version in versions:
        if version.number == number:
            return version
    raise NotFound(
        f"Document {document_id!r} has no version {number}; it has versions "
        f"1–{versions[-1].number}.",
        [ErrorDetail("version", f"no version {number}")],
    )
