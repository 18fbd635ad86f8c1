"""SQLAlchemy 2 models: what is archived, who may look, and what happened.

Rows only ever point at objects that were written (with retention) before the row was committed;
versions are never updated in place — a correction is a new row that supersedes the old, and so
is a timestamp renewal (a new signed PDF of the same export, linked by ``renews_id``). The one
exception is a version's legal-hold state, which mirrors a flag on its stored objects; its history
lives in the hash-chained audit log (``legal_hold.set`` / ``legal_hold.clear``).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base; every timestamp is stored timezone-aware (UTC).

    Constraints get deterministic names so that migrations can later drop or alter them by name
    on every database (SQLite's batch mode needs them).
    """

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}  # noqa: RUF012


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ЄДРПОУ code, the institution's stable public identifier.
    edrpou: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Document(Base):
    """One archival document: a class's journal of one school year (all its versions)."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("institution_id", "school_year", "class_name", "kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    school_year: Mapped[str] = mapped_column(String(9))
    class_name: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(50), default="class_journal")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    institution: Mapped[Institution] = relationship(lazy="joined")
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number"
    )


#: Uploads only: a renewal shares its export (bytes and object) with the version it renews.
_UPLOADS_ONLY = text("renews_id IS NULL")


class DocumentVersion(Base):
    """One immutable signed rendition plus the export it came from.

    A version is either an *upload* (rendered and signed from an export) or a *renewal*
    (``renews_id`` set): the renewed version's PDF with fresh validation data and a new archive
    timestamp appended, sharing that version's export. Each export is uploaded at most once per
    document, which the two partial unique indexes keep true for uploads only.
    """

    __tablename__ = "document_versions"
    __table_args__ = (
        UniqueConstraint("document_id", "number"),
        Index(
            "uq_document_versions_upload_source_sha256",
            "document_id",
            "source_sha256",
            unique=True,
            sqlite_where=_UPLOADS_ONLY,
            postgresql_where=_UPLOADS_ONLY,
        ),
        Index(
            "uq_document_versions_upload_source_object_key",
            "source_object_key",
            unique=True,
            sqlite_where=_UPLOADS_ONLY,
            postgresql_where=_UPLOADS_ONLY,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("document_versions.id"))
    #: The version whose timestamps this one renews; None for an upload.
    renews_id: Mapped[int | None] = mapped_column(ForeignKey("document_versions.id"))

    object_key: Mapped[str] = mapped_column(String(512), unique=True)
    object_version_id: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    pdf_profile: Mapped[str] = mapped_column(String(20))
    renderer: Mapped[str] = mapped_column(String(100))

    source_object_key: Mapped[str] = mapped_column(String(512))
    source_object_version_id: Mapped[str] = mapped_column(String(200))
    source_sha256: Mapped[str] = mapped_column(String(64), index=True)
    source_size: Mapped[int] = mapped_column(Integer)
    source_media_type: Mapped[str] = mapped_column(String(100))

    #: The level validation confirmed after signing, never merely the one requested.
    signature_level: Mapped[str] = mapped_column(String(10))
    signed_at: Mapped[dt.datetime]
    signer_kind: Mapped[str] = mapped_column(String(50))
    signer_subject: Mapped[str] = mapped_column(Text)
    signer_serial: Mapped[str] = mapped_column(String(100))
    signer_issuer: Mapped[str] = mapped_column(Text)
    qualified: Mapped[bool] = mapped_column(Boolean)
    #: When the TSA certificate of the PDF's newest timestamp expires: renew before then. None
    #: for B-B (no timestamp) and for versions recorded before revision 0003 (read it from the
    #: PDF).
    timestamp_expires_at: Mapped[dt.datetime | None]

    retain_until: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    #: Whether the version's objects are under legal hold (set on the objects first, then here).
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Why the hold was last set or cleared, by whom (actor name and token id) and when.
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)
    legal_hold_changed_by: Mapped[str | None] = mapped_column(String(250))
    legal_hold_changed_at: Mapped[dt.datetime | None]

    document: Mapped[Document] = relationship(back_populates="versions")


class ApiToken(Base):
    """A bearer token; only a hash of its secret is kept."""

    __tablename__ = "api_tokens"

    #: Public part of the token, also used in audit events.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    #: Limits the token to one institution; None means all institutions.
    institution_edrpou: Mapped[str | None] = mapped_column(String(8))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class AuditEvent(Base):
    """An append-only, hash-chained record of something that happened."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Position in the chain, gapless from 1; unique so concurrent writers cannot fork it.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[dt.datetime]
    action: Mapped[str] = mapped_column(String(50), index=True)
    outcome: Mapped[str] = mapped_column(String(30))
    actor_token_id: Mapped[str | None] = mapped_column(String(32), index=True)
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    document_id: Mapped[str | None] = mapped_column(String(36), index=True)
    version_number: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str | None] = mapped_column(Text)
    #: Extra facts as canonical JSON text (error code, filters, object key …).
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class SigningRequest(Base):
    """A journal prepared for an outside party's signature (README "External signing").

    Everything needed to finish it lives here, not in the write-once store: a request that is
    never answered must leave nothing behind that retention would keep for years. Finishing
    stores the objects, then in one transaction adds the version row, its audit event and sets
    ``state`` to ``finished`` — and only the answer that moved ``state`` from ``pending`` to
    ``finishing`` may do that, so two answers never make two versions. The bytes kept for
    finishing (``prepared_pdf``, ``source``) are emptied once the version is archived.
    """

    __tablename__ = "signing_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: ``pending`` (waits for an answer), ``finishing`` (an answer is being processed since
    #: ``claimed_at``) or ``finished`` (archived as ``document_id`` version ``version_number``).
    state: Mapped[str] = mapped_column(String(20), default="pending")
    institution_edrpou: Mapped[str] = mapped_column(String(8), index=True)
    institution_name: Mapped[str] = mapped_column(String(500))
    school_year: Mapped[str] = mapped_column(String(9))
    class_name: Mapped[str] = mapped_column(String(50))
    #: The document and version number the prepared PDF's title page names.
    document_id: Mapped[str] = mapped_column(String(36))
    version_number: Mapped[int] = mapped_column(Integer)

    source: Mapped[bytes] = mapped_column(LargeBinary)
    source_sha256: Mapped[str] = mapped_column(String(64), index=True)
    source_media_type: Mapped[str] = mapped_column(String(100))
    source_filename: Mapped[str] = mapped_column(String(255))

    #: The PDF with its signature reserved but empty, and the hole left out of its byte range.
    prepared_pdf: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_profile: Mapped[str] = mapped_column(String(20))
    renderer: Mapped[str] = mapped_column(String(100))
    reserved_start: Mapped[int] = mapped_column(Integer)
    reserved_end: Mapped[int] = mapped_column(Integer)
    field_name: Mapped[str] = mapped_column(String(100))
    #: SHA-256 (hex) of the byte range: what a whole CMS must sign.
    document_digest: Mapped[str] = mapped_column(String(64))
    #: DER signed attributes: what a raw signature value is computed over.
    signed_attributes: Mapped[bytes] = mapped_column(LargeBinary)
    signature_algorithm: Mapped[str] = mapped_column(String(50))
    signature_level: Mapped[str] = mapped_column(String(10))
    #: DER of the certificate the document was prepared for, and PEM of its intermediates.
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    certificate_chain: Mapped[str] = mapped_column(Text, default="")
    signer_subject: Mapped[str] = mapped_column(Text)
    signer_serial: Mapped[str] = mapped_column(String(100))
    signer_issuer: Mapped[str] = mapped_column(Text)

    #: Who uploaded the export (actor name and token id).
    created_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
