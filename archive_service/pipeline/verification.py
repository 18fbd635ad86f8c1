"""Verification: is a stored version (or any uploaded PDF) intact and validly signed?"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from sqlalchemy import select

from archive_service.access import READERS, Actor
from archive_service.db import Document, DocumentVersion, Institution, utcnow
from archive_service.errors import (
    ArchiveError,
    ErrorDetail,
    Forbidden,
    IntegrityFailure,
    MalformedInput,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from archive_service.object_identity import documents_named_in_pdf, pdf_identity
from archive_service.pipeline.values import RequestContext
from archive_service.pipeline.visibility import ReadAccessMixin
from archive_service.signing import validate_pdf
from archive_service.storage import ObjectNotFoundError
from archive_service.verification import ArchivedVersion, Verification, signature_evidence


class VerificationMixin(ReadAccessMixin):
    """Re-hashing and offline signature validation against the archive's trust roots."""

    def verify_document(
        self, document_id: str, version: int | None, ctx: RequestContext
    ) -> Verification:
        """Re-hash the stored PDF against the record and validate its signatures.

        A hash mismatch, a missing object or one stored as another document, institution or
        version (invariant 8) is reported in the result (and audited as ``integrity_failure``),
        not raised: the caller asked whether the copy is sound. Its signatures are then not
        validated, so nothing of the other object is shown.
        """
        self._require_reader(ctx, "verify", document_id)
        document = self._load_document(ctx, "verify", document_id)
        chosen = self._pick_version(document, version)
        archived = ArchivedVersion(document_id, chosen.number)
        try:
            data = self.store.get(
                chosen.object_key,
                sha256=chosen.sha256,
                version_id=chosen.object_version_id,
                identity=pdf_identity(
                    document.id, document.institution.edrpou, chosen.number, chosen.source_sha256
                ),
            )
            _require_named_document(data, document.id)
        except (IntegrityFailure, ObjectNotFoundError) as exc:
            verification = Verification(
                sha256=chosen.sha256,
                size=None,
                validated_at=utcnow(),
                validation=None,
                archived=archived,
                recorded_sha256=chosen.sha256,
                recorded_signature_level=chosen.signature_level,
                integrity_problem=exc.message,
            )
        else:
            verification = replace(
                self._validate(data, archived),
                recorded_sha256=chosen.sha256,
                recorded_signature_level=chosen.signature_level,
            )
        outcome = verification.verdict
        detail = (
            {"object_key": chosen.object_key, "problem": verification.integrity_problem}
            if verification.integrity_problem
            else None
        )
        self._record(ctx, "verify", outcome, document_id, chosen.number, chosen.sha256, detail)
        return verification

    def verify_upload(
        self, data: bytes, media_type: str | None, ctx: RequestContext
    ) -> Verification:
        """Is this copy an archived version, and is it validly signed? (any PDF, any origin)

        The archive is searched by the file's SHA-256 within the caller's scope only: a version
        of another institution's journal is reported exactly like no match, so the answer never
        tells a caller what lies outside its scope. Audited as ``verify_upload`` with the file's
        hash and the matched version, if any.
        """
        action = "verify_upload"
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            if ctx.actor.role not in READERS:
                raise Forbidden(f"The {ctx.actor.role.value} role may not verify documents.")
            self._check_verifiable_pdf(data, media_type)
            archived = self._archived_match(sha256, ctx.actor)
            verification = self._validate(data, archived)
        except ArchiveError as exc:
            outcome = "not_a_pdf" if isinstance(exc, MalformedInput) else self._outcome(exc)
            self._record_best_effort(
                ctx, action, outcome, sha256=sha256, detail=self._error(exc) | {"size": len(data)}
            )
            raise
        match = verification.archived
        self._record(
            ctx,
            action,
            verification.verdict,
            match.document_id if match else None,
            match.version if match else None,
            sha256,
            {"size": len(data), "archived": match is not None, "verdict": verification.verdict},
        )
        return verification

    def _check_verifiable_pdf(self, data: bytes, media_type: str | None) -> None:
        if media_type != "application/pdf":
            raise UnsupportedMediaType(
                f"Send the file as 'Content-Type: application/pdf', not {media_type!r}.",
                [ErrorDetail("Content-Type", "application/pdf expected")],
            )
        if len(data) > self.max_upload_bytes:
            raise PayloadTooLarge(
                f"The file is larger than this archive accepts ({self.max_upload_bytes} bytes).",
                [ErrorDetail("body", f"more than {self.max_upload_bytes} bytes")],
            )
        if not data:
            raise MalformedInput(
                "The request body is empty: send the PDF to verify.",
                [ErrorDetail("body", "empty")],
            )
        # PDF readers accept up to 1024 bytes of junk before the header (ISO 32000-1, 7.5.2).
        if b"%PDF-" not in data[:1024]:
            raise MalformedInput(
                "The file is not a PDF (no '%PDF-' header).", [ErrorDetail("body", "not a PDF")]
            )

    def _archived_match(self, sha256: str, actor: Actor) -> ArchivedVersion | None:
        """The archived version with exactly these bytes, if the actor may see its document."""
        with self.reader() as session:
            candidates = session.execute(
                select(DocumentVersion.document_id, DocumentVersion.number, Institution.edrpou)
                .join(Document, Document.id == DocumentVersion.document_id)
                .join(Institution, Institution.id == Document.institution_id)
                .where(DocumentVersion.sha256 == sha256)
                .order_by(DocumentVersion.id)
            ).all()
        for document_id, number, edrpou in candidates:
            if actor.in_scope(edrpou):
                return ArchivedVersion(document_id, number)
        return None

    def _validate(self, data: bytes, archived: ArchivedVersion | None) -> Verification:
        """Validate the signatures of PDF bytes offline against the archive's trust roots."""
        validated_at = utcnow()
        # UnreadablePdf is a MalformedInput
        validation = validate_pdf(data, self.sealing.trust_roots)
        return Verification(
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            validated_at=validated_at,
            validation=validation,
            archived=archived,
            evidence=signature_evidence(data),
        )


def _require_named_document(pdf: bytes, document_id: str) -> None:
    """The signed PDF's own metadata must not name another document (invariant 8).

    Unlike the object's identity this holds for objects stored before identities existed too:
    the seal covers the XMP packet that names the document. A PDF that names none (not made by
    this archive's renderer) is left to the other checks.
    """
    named = documents_named_in_pdf(pdf)
    if named and document_id not in named:
        raise IntegrityFailure(
            "The stored PDF's signed metadata names another document: the database row points "
            "at another document's PDF. Alert the archive's administrator (see `archive-service "
            "reconcile`)."
        )
