"""Writing one archived version: render, store (objects first, with retention), record.

Shared by ingest (the archive signs) and external signing requests (an outside party
signs later): both end in the same objects-then-row order that invariant 2 asks for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from archive_service import audit
from archive_service.db import Document, DocumentVersion, Institution, SigningRequest, utcnow
from archive_service.errors import Conflict, ErrorDetail, ServiceUnavailable
from archive_service.journal.model import Journal
from archive_service.object_identity import pdf_identity, source_identity
from archive_service.object_keys import version_prefix
from archive_service.pipeline.recording import AuditRecordingMixin
from archive_service.pipeline.values import IngestResult, RequestContext
from archive_service.render import DocumentInfo, RenderedDocument, SourceAttachment
from archive_service.signing.errors import SigningRequestBusy
from archive_service.signing.long_term import timestamp_expiry
from archive_service.signing.pades import SignedDocument
from archive_service.storage import ObjectExistsError, StorageUnavailable, StoredObject
from archive_service.views import document_view

DOCUMENT_KIND = "class_journal"
#: Why the archive signs (the signature dictionary's /Reason).
SIGNING_REASON = "Архівування класного журналу"


class _RaceLost(Conflict):
    """Another version of the same journal was recorded while this one was being made."""


@dataclass(frozen=True)
class UploadPlan:
    """One export on its way to becoming a version: what render, store and record all need."""

    journal: Journal
    #: The export bytes as uploaded (stored and embedded in the PDF unchanged).
    data: bytes
    filename: str
    media_type: str
    source_sha256: str
    document_id: str
    #: The version number this export is to become.
    number: int


class VersionWriterMixin(AuditRecordingMixin):
    """Render, store and record versions; idempotent per export bytes."""

    def _find_document(self, session: Session, journal: Journal) -> Document | None:
        return session.scalar(
            select(Document)
            .join(Institution)
            .where(
                Institution.edrpou == journal.institution.edrpou,
                Document.school_year == journal.school_year.label,
                Document.class_name == journal.school_class.name,
                Document.kind == DOCUMENT_KIND,
            )
            .options(selectinload(Document.versions))
        )

    def _plan_version(self, journal: Journal, source_sha256: str) -> IngestResult | tuple[str, int]:
        """Either the already archived version of these bytes, or (document id, next number)."""
        with self.reader() as session:
            document = self._find_document(session, journal)
            if document is None:
                return str(uuid.uuid4()), 1
            for version in document.versions:
                if version.source_sha256 == source_sha256:
                    view = document_view(document, all_versions=True)
                    return IngestResult(view, view["versions"][version.number - 1], False)
            return document.id, len(document.versions) + 1

    def _render(self, upload: UploadPlan, verification_note: str) -> RenderedDocument:
        return self.renderer.render(
            upload.journal,
            SourceAttachment(
                filename=upload.filename, media_type=upload.media_type, data=upload.data
            ),
            DocumentInfo(
                document_id=upload.document_id,
                version=upload.number,
                test_pki=self.sealing.test_pki,
                verification_note=verification_note,
                profile=self.pdf_profile_for(upload.journal.institution.edrpou),
            ),
        )

    def _store_signed(
        self,
        upload: UploadPlan,
        rendition: tuple[str, str],
        signed: SignedDocument,
        ctx: RequestContext,
        finishing: SigningRequest | None = None,
    ) -> IngestResult:
        """Store both objects (with retention), then record the version and its audit event.

        :param rendition: the PDF profile and renderer the signed PDF was made with.
        :param finishing: the signing request this version finishes (marked finished in the
            version's transaction).
        """
        pdf_sha256 = hashlib.sha256(signed.pdf).hexdigest()
        retain_until = self._retain_until(upload.journal)
        prefix = version_prefix(
            upload.journal.institution.edrpou,
            upload.journal.school_year.label,
            upload.journal.school_class.name,
            upload.document_id,
            upload.number,
        )
        edrpou = upload.journal.institution.edrpou
        with self._stage("store"), self._store_unreachable_as_retryable():
            source_obj = self._put_once(
                f"{prefix}/source-{upload.source_sha256}.{upload.filename.rsplit('.', 1)[-1]}",
                upload.data,
                upload.source_sha256,
                upload.media_type,
                retain_until,
                source_identity(
                    upload.document_id, edrpou, upload.number, upload.source_sha256
                ),
            )
            pdf_obj = self._put_once(
                f"{prefix}/journal-{pdf_sha256}.pdf",
                signed.pdf,
                pdf_sha256,
                "application/pdf",
                retain_until,
                pdf_identity(upload.document_id, edrpou, upload.number, upload.source_sha256),
            )
        self.before_record()
        version = DocumentVersion(
            number=upload.number,
            object_key=pdf_obj.key,
            object_version_id=pdf_obj.version_id,
            sha256=pdf_sha256,
            size=len(signed.pdf),
            pdf_profile=rendition[0],
            renderer=rendition[1],
            source_object_key=source_obj.key,
            source_object_version_id=source_obj.version_id,
            source_sha256=upload.source_sha256,
            source_size=len(upload.data),
            source_media_type=upload.media_type,
            signature_level=signed.level,
            signed_at=signed.signed_at,
            signer_kind=signed.signer_kind,
            signer_subject=signed.signer_subject,
            signer_serial=signed.signer_serial,
            signer_issuer=signed.signer_issuer,
            qualified=signed.qualified,
            retain_until=retain_until,
            timestamp_expires_at=timestamp_expiry(signed.pdf).expires_at,
        )
        with self._stage("record"):
            if finishing is None:
                return self._record_version(upload.journal, upload.document_id, version, ctx)
            return self._record_version(
                upload.journal,
                upload.document_id,
                version,
                ctx,
                action="signing.finish",
                extra={"request_id": finishing.id, "signer_subject": signed.signer_subject},
                within=lambda session: self._mark_finished(session, finishing.id),
            )

    def _record_version(
        self,
        journal: Journal,
        document_id: str,
        version: DocumentVersion,
        ctx: RequestContext,
        *,
        action: str = "upload",
        extra: dict[str, Any] | None = None,
        within: Callable[[Session], None] | None = None,
    ) -> IngestResult:
        """Commit the version row and its audit event together, after the objects exist.

        :param within: more work for the same transaction (it may refuse with an error).
        """
        try:
            with self._audited_transaction() as session:
                document = self._get_or_create_document(session, journal, document_id)
                previous = session.scalar(
                    select(DocumentVersion)
                    .where(DocumentVersion.document_id == document.id)
                    .order_by(DocumentVersion.number.desc())
                    .limit(1)
                )
                if (previous.number if previous else 0) != version.number - 1:
                    raise _RaceLost(
                        "Another version of this journal was archived at the same time; "
                        "upload again to archive yours as the next version."
                    )
                version.document_id = document.id
                version.supersedes_id = previous.id if previous else None
                session.add(version)
                session.flush()
                if within is not None:
                    within(session)
                detail = {
                    "source_sha256": version.source_sha256,
                    "object_key": version.object_key,
                } | (extra or {})
                event = audit.append_event(
                    session,
                    self._event(
                        ctx,
                        action,
                        "accepted",
                        document.id,
                        version.number,
                        version.sha256,
                        detail,
                    ),
                )
                session.flush()
                session.refresh(document, ["versions"])
                view = document_view(document, all_versions=True)
        except (IntegrityError, _RaceLost) as exc:
            return self._lost_race(journal, version, ctx, action, exc)
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(
                "The database is unavailable; the document was not recorded. Upload again later."
            ) from exc
        self._after_append(event)
        return IngestResult(view, view["versions"][-1], True)

    def _lost_race(
        self,
        journal: Journal,
        version: DocumentVersion,
        ctx: RequestContext,
        action: str,
        exc: Exception,
    ) -> IngestResult:
        """A concurrent upload recorded first. Of the same export: answer 200 with its version
        and audit that answer like any duplicate, naming the objects this attempt left behind
        (reconcile lists them as harmless duplicates of the recorded export). Of another export
        of the same journal: 409, upload again to archive it as the next version.
        """
        existing = self._plan_version(journal, version.source_sha256)
        if not isinstance(existing, IngestResult):
            if isinstance(exc, _RaceLost):
                raise exc
            raise Conflict(
                "Another upload of this journal was archived at the same time; upload again."
            ) from None
        document_id = existing.document["document_id"]
        number = existing.version["version"]
        self._record(
            ctx,
            action,
            "duplicate",
            document_id,
            number,
            existing.version["sha256"],
            {
                "source_sha256": version.source_sha256,
                "race": "lost",
                "leftover_object_keys": self._leftover_keys(document_id, number, version),
            },
        )
        return existing

    def _leftover_keys(self, document_id: str, number: int, mine: DocumentVersion) -> list[str]:
        """The objects of an attempt that lost its race which the recorded version does not use."""
        with self.reader() as session:
            recorded = session.execute(
                select(DocumentVersion.object_key, DocumentVersion.source_object_key).where(
                    DocumentVersion.document_id == document_id,
                    DocumentVersion.number == number,
                )
            ).one_or_none()
        used = set(recorded or ())
        return [k for k in (mine.source_object_key, mine.object_key) if k not in used]

    @staticmethod
    def _mark_finished(session: Session, request_id: str) -> None:
        """In the version's transaction: only the claim holder finishes; drop the bytes."""
        finished = session.execute(
            update(SigningRequest)
            .where(SigningRequest.id == request_id, SigningRequest.state == "finishing")
            .values(state="finished", finished_at=utcnow(), prepared_pdf=b"", source=b"")
        ).rowcount
        if finished != 1:
            raise SigningRequestBusy(
                "Another answer took over this signing request meanwhile; nothing was recorded.",
                [ErrorDetail("request_id", "taken over")],
            )

    @staticmethod
    @contextmanager
    def _store_unreachable_as_retryable() -> Iterator[None]:
        """One message for every backend: what happened to the upload, and that a retry may work."""
        try:
            yield
        except StorageUnavailable as exc:
            raise StorageUnavailable(
                "The object store could not be reached, so the journal was not archived and "
                f"nothing was recorded; retrying the upload later may succeed. ({exc.message})"
            ) from exc

    def _put_once(
        self,
        key: str,
        data: bytes,
        sha256: str,
        content_type: str,
        retain_until: dt.datetime,
        identity: dict[str, str],
    ) -> StoredObject:
        """Write-once put that accepts an identical object left by an interrupted attempt.

        :param identity: what the object is (invariant 8), recorded write-once with it. An
            object already there is accepted only if it was stored as the same thing (or, when
            written before identities existed, with no identity at all).
        """
        try:
            return self.store.put(
                key,
                data,
                sha256=sha256,
                content_type=content_type,
                retain_until=retain_until,
                identity=identity,
            )
        except ObjectExistsError:
            # The key's current version may be a delete marker or another version; what counts
            # is whether a complete version with exactly these bytes is there to be recorded.
            existing = self.store.find(key, sha256=sha256)
            if existing is None or (existing.identity and dict(existing.identity) != identity):
                raise
            return existing

    def _get_or_create_document(
        self, session: Session, journal: Journal, document_id: str
    ) -> Document:
        institution = session.scalar(
            select(Institution).where(Institution.edrpou == journal.institution.edrpou)
        )
        if institution is None:
            institution = Institution(
                edrpou=journal.institution.edrpou, name=journal.institution.name
            )
            session.add(institution)
            session.flush()
        elif institution.name != journal.institution.name:
            institution.name = journal.institution.name
        document = session.get(Document, document_id)
        if document is None:
            document = Document(
                id=document_id,
                institution_id=institution.id,
                school_year=journal.school_year.label,
                class_name=journal.school_class.name,
                kind=DOCUMENT_KIND,
            )
            session.add(document)
            session.flush()
        return document

    def _retain_until(self, journal: Journal) -> dt.datetime:
        """Retention runs from the end of the school year (31 August) for the kind's years."""
        years = self.retention_years(DOCUMENT_KIND)
        end = journal.school_year.last_day
        return dt.datetime(end.year + years, end.month, end.day, 23, 59, 59, tzinfo=dt.UTC)
