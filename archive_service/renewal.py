"""Which archived versions need their timestamps renewed, and what a renewal run reports.

A PAdES B-LTA document stays verifiable offline while its newest archive timestamp's TSA
certificate is valid; before that certificate expires a new archive timestamp must be added
(:func:`archive_service.signing.long_term.extend_or_renew`). The archive records that date per
version (``timestamp_expires_at``) so the nightly job finds due versions with one query, and
:meth:`archive_service.pipeline.Archive.renew_timestamps` does the work.

Only each document's *newest* version is renewed: older versions are kept as they are (they stay
retrievable by number), and the renewal becomes the newest, current version.

Versions below B-LTA are always due, whatever the date: their evidence already ends with the
signer's certificate (B-B, B-T) or cannot be extended once it has expired without embedded
revocation data, so waiting for their timestamp's TSA date would be too late.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from archive_service.db import Document, DocumentVersion, Institution
from archive_service.views import iso

#: The level renewal produces and the only one whose date decides whether it is due.
LONG_TERM_LEVEL = "B-LTA"

RenewalStatus = Literal["renewed", "due", "failed"]


@dataclass(frozen=True)
class RenewalCandidate:
    """A document's newest version that may be due, with what renewing it needs."""

    version_id: int
    document_id: str
    number: int
    edrpou: str
    school_year: str
    class_name: str
    object_key: str
    object_version_id: str
    sha256: str
    signature_level: str
    #: None for B-B and for versions recorded before the column existed.
    timestamp_expires_at: dt.datetime | None
    retain_until: dt.datetime
    #: The export the version was rendered from: its PDF's identity names it, and so does the
    #: renewal's (see object_identity).
    source_sha256: str = ""


@dataclass(frozen=True)
class RenewalItem:
    """What happened to one due version."""

    document_id: str
    #: The version that was (or would be) renewed.
    version: int
    status: RenewalStatus
    level_before: str
    timestamp_expired_at: dt.datetime | None
    #: The renewal's own version number, once recorded.
    new_version: int | None = None
    level_after: str | None = None
    #: When the renewal's newest timestamp's TSA certificate expires: the next due date.
    timestamp_expires_at: dt.datetime | None = None
    #: Error code (``not_renewable``, ``signing_failed``, ``storage_unavailable``, …).
    error: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            key: iso(value) if isinstance(value, dt.datetime) else value
            for key, value in asdict(self).items()
        }


@dataclass(frozen=True)
class RenewalReport:
    due_before: dt.datetime
    dry_run: bool
    #: Newest versions the due-date query returned (some turn out not due once their PDF is
    #: read, when the date was not recorded).
    examined: int
    items: tuple[RenewalItem, ...]

    @property
    def renewed(self) -> int:
        return sum(item.status == "renewed" for item in self.items)

    @property
    def failed(self) -> int:
        return sum(item.status == "failed" for item in self.items)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "due_before": iso(self.due_before),
            "dry_run": self.dry_run,
            "examined": self.examined,
            "due": len(self.items),
            "renewed": self.renewed,
            "failed": self.failed,
            "items": [item.as_dict() for item in self.items],
        }


def utc(moment: dt.datetime) -> dt.datetime:
    """Aware UTC; SQLite hands back naive datetimes that are UTC by construction."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def is_due(level: str, timestamp_expires_at: dt.datetime | None, due_before: dt.datetime) -> bool:
    """Whether a version must be renewed now to stay verifiable until ``due_before``."""
    if level != LONG_TERM_LEVEL or timestamp_expires_at is None:
        return True
    return utc(timestamp_expires_at) < utc(due_before)


def _due_query(due_before: dt.datetime) -> Select[Any]:
    newest = (
        select(DocumentVersion.document_id, func.max(DocumentVersion.number).label("number"))
        .group_by(DocumentVersion.document_id)
        .subquery()
    )
    return (
        select(
            DocumentVersion.id,
            DocumentVersion.document_id,
            DocumentVersion.number,
            Institution.edrpou,
            Document.school_year,
            Document.class_name,
            DocumentVersion.object_key,
            DocumentVersion.object_version_id,
            DocumentVersion.sha256,
            DocumentVersion.signature_level,
            DocumentVersion.timestamp_expires_at,
            DocumentVersion.retain_until,
            DocumentVersion.source_sha256,
        )
        .join(
            newest,
            (newest.c.document_id == DocumentVersion.document_id)
            & (newest.c.number == DocumentVersion.number),
        )
        .join(Document, Document.id == DocumentVersion.document_id)
        .join(Institution, Institution.id == Document.institution_id)
        .where(
            or_(
                DocumentVersion.signature_level != LONG_TERM_LEVEL,
                DocumentVersion.timestamp_expires_at.is_(None),
                # SQLite compares the stored text: pass UTC like every stored value.
                DocumentVersion.timestamp_expires_at < utc(due_before),
            )
        )
        .order_by(DocumentVersion.timestamp_expires_at, DocumentVersion.document_id)
    )


def due_candidates(session: Session, due_before: dt.datetime) -> list[RenewalCandidate]:
    """Newest versions that are due by their record (or have no recorded date), soonest first."""
    return [
        RenewalCandidate(
            version_id=row[0],
            document_id=row[1],
            number=row[2],
            edrpou=row[3],
            school_year=row[4],
            class_name=row[5],
            object_key=row[6],
            object_version_id=row[7],
            sha256=row[8],
            signature_level=row[9],
            timestamp_expires_at=utc(row[10]) if row[10] is not None else None,
            retain_until=utc(row[11]),
            source_sha256=row[12],
        )
        for row in session.execute(_due_query(due_before))
    ]
