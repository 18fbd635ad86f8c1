"""External signing requests: prepare a document, wait for the outside party, finish it.

Nothing is archived until a valid answer arrives; the prepared document waits in the
database (not the write-once store), and exactly one answer can finish it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from contextlib import suppress
from typing import Any

from asn1crypto import pem
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from archive_service import audit
from archive_service.access import UPLOADERS
from archive_service.db import SigningRequest, utcnow
from archive_service.errors import (
    ArchiveError,
    ErrorDetail,
    Forbidden,
    NotFound,
    ServiceUnavailable,
)
from archive_service.journal import parse_export
from archive_service.pipeline.values import IngestResult, PendingSignature, RequestContext
from archive_service.pipeline.versions import UploadPlan, VersionWriterMixin
from archive_service.signing.certificates import issuer_text, serial_hex, subject_text
from archive_service.signing.errors import (
    SigningRequestBusy,
    SigningRequestExpired,
    SigningRequestFinished,
)
from archive_service.signing.pades import SignedDocument
from archive_service.signing.sealing import PreparedDocument, PreparedSignature, SignatureAnswer
from archive_service.views import iso, signing_request_view

EXTERNAL_VERIFICATION_NOTE = (
    "Документ підписано електронним підписом зовнішнього підписувача у форматі PAdES: {subject} "
    "(серійний номер сертифіката {serial}; видавець: {issuer}). Перевірити підпис можна "
    "будь-яким валідатором PAdES (наприклад, pyHanko або EU DSS) за кореневим сертифікатом "
    "довіри; цілісність — порівнянням SHA-256 файлу з записом в архіві."
)
#: How long an answer may take to finish before another answer may take over its request
#: (a process that died while finishing must not block the request for good).
SIGNING_CLAIM_TIMEOUT = dt.timedelta(minutes=15)


class SigningRequestsMixin(VersionWriterMixin):
    """Prepared uploads of institutions whose signer holds no key here."""

    def _waiting_duplicate(
        self, upload: UploadPlan, ctx: RequestContext
    ) -> PendingSignature | None:
        """The request already waiting for these export bytes (audited as a duplicate)."""
        edrpou = upload.journal.institution.edrpou
        waiting = self._waiting_request(edrpou, upload.source_sha256)
        if waiting is None:
            return None
        self._record(
            ctx, "signing.prepare", "duplicate", waiting["document_id"],
            waiting["version"], None, {"request_id": waiting["request_id"]},
        )
        return PendingSignature(waiting, created=False)

    def _prepare_signing_request(
        self,
        sealed: PreparedDocument,
        upload: UploadPlan,
        rendition: tuple[str, str],
        ctx: RequestContext,
    ) -> PendingSignature:
        """Keep a document prepared for the outside party in the database, not the store.

        :param rendition: the PDF profile and renderer the prepared PDF was made with.
        """
        edrpou = upload.journal.institution.edrpou
        prepared = sealed.prepared
        cert = prepared.signer_certificate
        now = utcnow()
        request = SigningRequest(
            id=str(uuid.uuid4()),
            state="pending",
            institution_edrpou=edrpou,
            institution_name=upload.journal.institution.name,
            school_year=upload.journal.school_year.label,
            class_name=upload.journal.school_class.name,
            document_id=upload.document_id,
            version_number=upload.number,
            source=upload.data,
            source_sha256=upload.source_sha256,
            source_media_type=upload.media_type,
            source_filename=upload.filename,
            prepared_pdf=prepared.pdf,
            pdf_profile=rendition[0],
            renderer=rendition[1],
            reserved_start=prepared.reserved_start,
            reserved_end=prepared.reserved_end,
            field_name=prepared.field_name,
            document_digest=prepared.document_digest.hex(),
            signed_attributes=prepared.signed_attributes,
            signature_algorithm=prepared.signature_algorithm,
            signature_level=prepared.level,
            certificate=prepared.certificate,
            certificate_chain="".join(
                pem.armor("CERTIFICATE", der).decode("ascii") for der in prepared.chain
            ),
            signer_subject=subject_text(cert),
            signer_serial=serial_hex(cert),
            signer_issuer=issuer_text(cert),
            created_by=f"{ctx.actor.name} ({ctx.actor.token_id or ctx.actor.role.value})",
            created_at=now,
            expires_at=now + sealed.valid_for,
        )
        detail = {
            "request_id": request.id,
            "source_sha256": upload.source_sha256,
            "signer_serial": request.signer_serial,
            "expires_at": iso(request.expires_at),
        }
        try:
            with self._audited_transaction() as session:
                session.add(request)
                session.flush()
                event = audit.append_event(
                    session,
                    self._event(
                        ctx, "signing.prepare", "prepared", upload.document_id, upload.number,
                        hashlib.sha256(prepared.pdf).hexdigest(), detail,
                    ),
                )
                view = signing_request_view(request, now)
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(
                "The database is unavailable; the journal was not prepared for signing. "
                "Upload again later."
            ) from exc
        self._after_append(event)
        return PendingSignature(view, created=True)

    def _waiting_request(self, edrpou: str, source_sha256: str) -> dict[str, Any] | None:
        """The unexpired request already waiting for these export bytes, if any."""
        now = utcnow()
        with self.reader() as session:
            request = session.scalar(
                select(SigningRequest)
                .where(
                    SigningRequest.institution_edrpou == edrpou,
                    SigningRequest.source_sha256 == source_sha256,
                    SigningRequest.state != "finished",
                    SigningRequest.expires_at > now,
                )
                .order_by(SigningRequest.created_at.desc())
                .limit(1)
            )
            return signing_request_view(request, now) if request is not None else None

    def _visible_request(
        self, ctx: RequestContext, action: str, request_id: str
    ) -> SigningRequest:
        """The request if the actor may sign for its institution; else audited 403/404."""
        self._require_signing_role(ctx, action)
        with self.reader() as session:
            request = session.get(SigningRequest, request_id)
        if request is None or not ctx.actor.in_scope(request.institution_edrpou):
            self._record_best_effort(
                ctx, action, "not_found", detail={"request_id": request_id[:100]}
            )
            raise NotFound(
                f"No signing request {request_id!r} is visible to this token.",
                [ErrorDetail("request_id", "unknown or outside the token's scope")],
            )
        return request

    def signing_request(self, request_id: str, ctx: RequestContext) -> dict[str, Any]:
        """A request with the data to be signed (uploaders of its institution and admins)."""
        request = self._visible_request(ctx, "signing.read", request_id)
        self._record(
            ctx, "signing.read", "ok", request.document_id, request.version_number, None,
            {"request_id": request.id},
        )
        return signing_request_view(request, utcnow())

    def signing_requests(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Unexpired requests waiting for a signature in the actor's scope, oldest first."""
        self._require_signing_role(ctx, "signing.list")
        now = utcnow()
        query = select(SigningRequest).where(
            SigningRequest.state != "finished", SigningRequest.expires_at > now
        )
        if ctx.actor.institution is not None:
            query = query.where(SigningRequest.institution_edrpou == ctx.actor.institution)
        with self.reader() as session:
            waiting = session.scalars(
                query.order_by(SigningRequest.created_at, SigningRequest.id).limit(self.page_size)
            ).all()
            views = [signing_request_view(r, now) for r in waiting]
        self._record(ctx, "signing.list", "ok", None, None, None, {"count": len(views)})
        return views

    def _require_signing_role(self, ctx: RequestContext, action: str) -> None:
        """Signing requests belong to uploading: archivists, jobs and admins (README)."""
        if ctx.actor.role not in UPLOADERS:
            exc = Forbidden(f"The {ctx.actor.role.value} role may not handle signing requests.")
            self._record_best_effort(ctx, action, "denied", detail=self._error(exc))
            raise exc

    def finish_signing_request(
        self, request_id: str, answer: SignatureAnswer, ctx: RequestContext
    ) -> IngestResult:
        """Finish a prepared document with the outside party's answer and archive it.

        Exactly one answer can win: it first moves the request from ``pending`` to
        ``finishing``; the version row is committed together with ``finished``. A refused answer
        returns the request to ``pending`` (a corrected answer may follow) and changes nothing
        else; every answer, accepted or not, is audited as ``signing.finish``.
        """
        action = "signing.finish"
        request = self._visible_request(ctx, action, request_id)
        audit_args = {"document_id": request.document_id, "version": request.version_number}
        try:
            self._claim(request)
        except ArchiveError as exc:
            self._record_best_effort(
                ctx, action, self._outcome(exc), **audit_args,
                detail=self._error(exc) | {"request_id": request.id},
            )
            raise
        try:
            signed = self._finish_signature(request, answer)
            journal = parse_export(
                request.source, request.source_media_type, max_bytes=self.max_upload_bytes
            ).journal
            upload = UploadPlan(
                journal=journal,
                data=request.source,
                filename=request.source_filename,
                media_type=request.source_media_type,
                source_sha256=request.source_sha256,
                document_id=request.document_id,
                number=request.version_number,
            )
            return self._store_signed(
                upload, (request.pdf_profile, request.renderer), signed, ctx, finishing=request
            )
        except BaseException as exc:
            self._release(request.id)
            if isinstance(exc, ArchiveError):
                outcome = self._outcome(exc) if exc.status < 500 else "failed"
                self._record_best_effort(
                    ctx, action, outcome, **audit_args,
                    detail=self._error(exc) | {"request_id": request.id},
                )
            raise

    def _claim(self, request: SigningRequest) -> None:
        """Move the request to ``finishing`` or say why it cannot be (409 or 410)."""
        now = utcnow()
        claimable = or_(
            SigningRequest.state == "pending",
            and_(
                SigningRequest.state == "finishing",
                SigningRequest.claimed_at < now - SIGNING_CLAIM_TIMEOUT,
            ),
        )
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(SigningRequest)
                .where(SigningRequest.id == request.id, SigningRequest.expires_at > now, claimable)
                .values(state="finishing", claimed_at=now)
            ).rowcount
            state = session.scalar(
                select(SigningRequest.state).where(SigningRequest.id == request.id)
            )
        if claimed == 1:
            return
        if state == "finished":
            raise SigningRequestFinished(
                "This signing request was already answered and its document archived; "
                "further answers are refused.",
                [ErrorDetail("request_id", "already finished")],
            )
        if state == "pending":
            raise SigningRequestExpired(
                f"This signing request expired at {iso(request.expires_at)}; nothing was "
                "archived. Upload the export again to prepare a new one.",
                [ErrorDetail("request_id", "expired")],
            )
        raise SigningRequestBusy(
            "Another answer to this signing request is being processed; wait for its result.",
            [ErrorDetail("request_id", "being finished")],
        )

    def _release(self, request_id: str) -> None:
        """Back to ``pending`` after a refused or failed answer (best effort)."""
        with suppress(SQLAlchemyError), self.sessions.begin() as session:
            session.execute(
                update(SigningRequest)
                .where(SigningRequest.id == request_id, SigningRequest.state == "finishing")
                .values(state="pending", claimed_at=None)
            )

    def _finish_signature(self, request: SigningRequest, answer: SignatureAnswer) -> SignedDocument:
        """The sealer finishes it (one whose key is held here refuses: 503, upload again)."""
        sealer = self.sealing.sealer_for(request.institution_edrpou)
        chain = tuple(
            der for kind, _headers, der in pem.unarmor(
                request.certificate_chain.encode("ascii"), multiple=True
            )
            if kind == "CERTIFICATE"
        ) if request.certificate_chain else ()
        prepared = PreparedSignature(
            pdf=request.prepared_pdf,
            reserved_start=request.reserved_start,
            reserved_end=request.reserved_end,
            document_digest=bytes.fromhex(request.document_digest),
            signed_attributes=request.signed_attributes,
            signature_algorithm=request.signature_algorithm,
            certificate=request.certificate,
            chain=chain,
            level=request.signature_level,
            field_name=request.field_name,
        )
        with self._stage("sign"):
            return sealer.finish(prepared, answer)
