"""The use cases: ingest, retrieve, verify, list. The only module that knows every room.

Order matters for the invariants (see DESIGN.md):

* ingest writes both objects (with retention) before the database row, in one transaction with
  its audit event — a crash in between leaves an orphan object, never a row without an object;
* retrieve reads and re-hashes the bytes, then commits the audit event, and only then hands the
  bytes to the caller — if the event cannot be written nothing is returned;
* nothing here updates or deletes a version: a changed export becomes a new version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from asn1crypto import pem
from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from archive_service import audit
from archive_service.access import READERS, UPLOADERS, Actor, Role
from archive_service.audit_checkpoints import AuditCheckpoints
from archive_service.audit_group import BatchFailed, GroupCommit
from archive_service.db import (
    AuditEvent,
    Document,
    DocumentVersion,
    Institution,
    SigningRequest,
    utcnow,
)
from archive_service.errors import (
    ArchiveError,
    Conflict,
    ErrorDetail,
    Forbidden,
    IntegrityFailure,
    InvalidInput,
    MalformedInput,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from archive_service.fast_reads import DocumentLocation, locate_document, pick_version
from archive_service.journal import parse_export
from archive_service.journal.model import Journal
from archive_service.object_keys import version_prefix
from archive_service.reconcile import ReconcileReport, reconcile, version_of_key
from archive_service.render import (
    DocumentInfo,
    JournalRenderer,
    RenderedDocument,
    SourceAttachment,
)
from archive_service.renewal import (
    RenewalCandidate,
    RenewalItem,
    RenewalReport,
    due_candidates,
    is_due,
    utc,
)
from archive_service.signing import DocumentSigner, SigningError, validate_pdf
from archive_service.signing.certificates import issuer_text, serial_hex, subject_text
from archive_service.signing.external import (
    ExternalPadesSigner,
    PreparedSignature,
    SignatureAnswer,
    SigningRequestBusy,
    SigningRequestExpired,
    SigningRequestFinished,
)
from archive_service.signing.long_term import (
    RenewedDocument,
    extend_or_renew,
    timestamp_expiry,
)
from archive_service.signing.pades import SignedDocument
from archive_service.storage import (
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectStore,
    StorageUnavailable,
    StoredObject,
)
from archive_service.verification import ArchivedVersion, Verification, signature_evidence
from archive_service.views import document_view, iso, legal_hold_view, signing_request_view

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko_certvalidator.fetchers.api import FetcherBackend

log = logging.getLogger(__name__)

DOCUMENT_KIND = "class_journal"
#: Longest accepted legal-hold reason (a case or order number and a few words).
MAX_LEGAL_HOLD_REASON = 1000

VERIFICATION_NOTE = (
    "Документ підписано кваліфікованою електронною печаткою у форматі PAdES. Перевірити підпис "
    "можна будь-яким валідатором PAdES (наприклад, pyHanko або EU DSS) за кореневим "
    "сертифікатом довіри; цілісність — порівнянням SHA-256 файлу з записом в архіві."
)
TEST_VERIFICATION_NOTE = (
    "Документ підписано ТЕСТОВОЮ печаткою journal-archive, яка НЕ Є КВАЛІФІКОВАНОЮ. Кореневий "
    "сертифікат тестової ІВК видає команда «archive-service pki export-root»; з ним підпис "
    "перевіряється будь-яким валідатором PAdES (наприклад, pyHanko)."
)
#: Why the archive signs (the signature dictionary's /Reason).
SIGNING_REASON = "Архівування класного журналу"
EXTERNAL_VERIFICATION_NOTE = (
    "Документ підписано електронним підписом зовнішнього підписувача у форматі PAdES: {subject} "
    "(серійний номер сертифіката {serial}; видавець: {issuer}). Перевірити підпис можна "
    "будь-яким валідатором PAdES (наприклад, pyHanko або EU DSS) за кореневим сертифікатом "
    "довіри; цілісність — порівнянням SHA-256 файлу з записом в архіві."
)
#: How long an answer may take to finish before another answer may take over its request
#: (a process that died while finishing must not block the request for good).
SIGNING_CLAIM_TIMEOUT = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class RequestContext:
    """Who asks, from where and why: everything an audit event needs besides the action."""

    actor: Actor
    client_address: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class IngestResult:
    document: dict[str, Any]
    version: dict[str, Any]
    #: False when the same export was already archived (idempotent upload).
    created: bool


@dataclass(frozen=True)
class PendingSignature:
    """An upload prepared for an external signer: nothing is archived until it answers."""

    #: The signing request as :func:`~archive_service.views.signing_request_view` shows it.
    request: dict[str, Any]
    #: False when these export bytes were already waiting (the same request is returned).
    created: bool

    @property
    def document(self) -> dict[str, Any]:
        """The planned document, shaped like :attr:`IngestResult.document` for printers."""
        return {"document_id": self.request["document_id"]}

    @property
    def version(self) -> dict[str, Any]:
        return {"version": self.request["version"], "signature_level": "awaiting signature"}


@dataclass(frozen=True)
class Retrieval:
    """Bytes that passed the hash check and whose retrieval is already in the audit log."""

    data: bytes
    media_type: str
    filename: str
    sha256: str
    document_id: str
    version: int


@dataclass(frozen=True)
class DocumentFilter:
    institution: str | None = None
    school_year: str | None = None
    class_name: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    document_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    after_seq: int = 0
    limit: int = 100


@dataclass
class Archive:
    """The archive's use cases over injected backends (chosen by configuration elsewhere)."""

    #: Sessions that write (on SQLite they take the write lock when they begin).
    sessions: sessionmaker[Session]
    store: ObjectStore
    renderer: JournalRenderer
    #: The signer for an institution (EDRPOU): key and level are configuration per institution.
    #: An :class:`ExternalPadesSigner` holds no key: its uploads wait for an outside signature.
    signer_for: Callable[[str], DocumentSigner | ExternalPadesSigner]
    trust_roots: Sequence[Any]
    #: Retention in years after the school year, per document kind.
    retention_years: Callable[[str], int]
    #: PDF/A profile for an institution's documents (EDRPOU → profile name).
    pdf_profile_for: Callable[[str], str] = field(default=lambda _edrpou: "PDF/A-3u")
    max_upload_bytes: int = 32 * 1024 * 1024
    require_purpose: bool = False
    page_size: int = 50
    #: True while signing with the local test PKI: documents say so on their title page.
    test_pki: bool = True
    #: Invoked between the object writes and the database commit (fault-injection in tests).
    before_record: Callable[[], None] = field(default=lambda: None)
    #: Receives (stage, seconds) for parse/render/sign/store/record (the benchmark listens).
    on_stage: Callable[[str, float], None] | None = None
    #: Sessions that only read (no write lock on SQLite); defaults to ``sessions``.
    read_sessions: sessionmaker[Session] | None = None
    #: The TSA for archive timestamp renewals (:meth:`renew_timestamps`); None: no renewals.
    renewal_timestamper: TimeStamper | None = None
    #: How renewals fetch OCSP/CRL data (None: plain HTTP to the URLs in the certificates).
    fetcher_backend: FetcherBackend | None = None

    _audit_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def reader(self) -> sessionmaker[Session]:
        return self.read_sessions or self.sessions

    #: Chain heads in write-once storage; None only where no store should receive them.
    checkpoints: AuditCheckpoints | None = None

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        if self.on_stage is not None:
            self.on_stage(name, time.perf_counter() - started)

    # ------------------------------------------------------------------ ingest

    def ingest(
        self, data: bytes, media_type: str | None, ctx: RequestContext
    ) -> IngestResult | PendingSignature:
        """Archive one export: parse, render, sign, store, record. Idempotent per export bytes.

        With an external signer the export is prepared and waits for its signature instead.
        """
        try:
            if ctx.actor.role not in UPLOADERS:
                raise Forbidden(f"The {ctx.actor.role.value} role may not upload journals.")
            with self._stage("parse"):
                parsed = parse_export(data, media_type, max_bytes=self.max_upload_bytes)
            journal = parsed.journal
            self._check_upload_scope(ctx.actor, journal)
        except ArchiveError as exc:
            self._record_best_effort(ctx, "upload", self._outcome(exc), detail=self._error(exc))
            raise
        source_sha256 = hashlib.sha256(data).hexdigest()
        plan = self._plan_version(journal, source_sha256)
        if isinstance(plan, IngestResult):
            self._record(
                ctx,
                "upload",
                "duplicate",
                plan.document["document_id"],
                plan.version["version"],
                plan.version["sha256"],
            )
            return plan
        document_id, number = plan
        try:
            if number == 1:
                with self._store_unreachable_as_retryable():
                    document_id = (
                        self._interrupted_document_id(journal, source_sha256) or document_id
                    )
            return self._archive_new_version(
                journal,
                data,
                parsed.filename,
                parsed.media_type,
                source_sha256,
                document_id,
                number,
                ctx,
            )
        except ArchiveError as exc:
            self._record_best_effort(
                ctx, "upload", "failed", document_id=document_id, detail=self._error(exc)
            )
            raise

    def _check_upload_scope(self, actor: Actor, journal: Journal) -> None:
        edrpou = journal.institution.edrpou
        if not actor.in_scope(edrpou):
            raise Forbidden(
                f"This token may upload only for institution {actor.institution}; the export is "
                f"for institution {edrpou}.",
                [ErrorDetail("/institution/edrpou", "institution outside the token's scope")],
            )

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

    def _interrupted_document_id(self, journal: Journal, source_sha256: str) -> str | None:
        """The document id an interrupted first upload of these bytes stored its export under.

        A crash between the object writes and the commit leaves the export under a key naming
        a document id no row knows yet; taking that id lets the retry re-use the orphan instead
        of storing the same bytes again under a fresh id. Only first versions are looked for:
        later versions' keys are already deterministic (document id and number are recorded).
        """
        document_prefix = version_prefix(
            journal.institution.edrpou,
            journal.school_year.label,
            journal.school_class.name,
            "-",
            1,
        ).rsplit("/", 2)[0]
        for stored in self.store.iter_objects(f"{document_prefix}/"):
            names = version_of_key(stored.key)
            filename = stored.key.rsplit("/", 1)[-1]
            if (
                names is not None
                and names[1] == 1
                and stored.sha256 == source_sha256
                and filename.startswith(f"source-{source_sha256}.")
            ):
                return names[0]
        return None

    def _archive_new_version(
        self,
        journal: Journal,
        data: bytes,
        filename: str,
        media_type: str,
        source_sha256: str,
        document_id: str,
        number: int,
        ctx: RequestContext,
    ) -> IngestResult | PendingSignature:
        """Render, sign, store (objects first, with retention), then record (row + audit).

        An institution with an external signer gets its document prepared instead; it is
        stored and recorded when the outside party answers (:meth:`finish_signing_request`).
        """
        signer = self.signer_for(journal.institution.edrpou)
        if isinstance(signer, ExternalPadesSigner):
            return self._prepare_signing_request(
                signer, journal, data, filename, media_type, source_sha256, document_id, number,
                ctx,
            )
        with self._stage("render"):
            note = TEST_VERIFICATION_NOTE if self.test_pki else VERIFICATION_NOTE
            rendered = self._render(journal, data, filename, media_type, document_id, number, note)
        with self._stage("sign"):
            signed = signer.sign(
                rendered.pdf, reason=SIGNING_REASON, location=journal.institution.name
            )
        return self._store_signed(
            journal, data, filename, media_type, source_sha256, document_id, number,
            (rendered.profile, rendered.renderer), signed, ctx,
        )

    def _render(
        self,
        journal: Journal,
        data: bytes,
        filename: str,
        media_type: str,
        document_id: str,
        number: int,
        verification_note: str,
    ) -> RenderedDocument:
        return self.renderer.render(
            journal,
            SourceAttachment(filename=filename, media_type=media_type, data=data),
            DocumentInfo(
                document_id=document_id,
                version=number,
                test_pki=self.test_pki,
                verification_note=verification_note,
                profile=self.pdf_profile_for(journal.institution.edrpou),
            ),
        )

    def _store_signed(
        self,
        journal: Journal,
        data: bytes,
        filename: str,
        media_type: str,
        source_sha256: str,
        document_id: str,
        number: int,
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
        retain_until = self._retain_until(journal)
        prefix = version_prefix(
            journal.institution.edrpou,
            journal.school_year.label,
            journal.school_class.name,
            document_id,
            number,
        )
        with self._stage("store"), self._store_unreachable_as_retryable():
            source_obj = self._put_once(
                f"{prefix}/source-{source_sha256}.{filename.rsplit('.', 1)[-1]}",
                data,
                source_sha256,
                media_type,
                retain_until,
            )
            pdf_obj = self._put_once(
                f"{prefix}/journal-{pdf_sha256}.pdf",
                signed.pdf,
                pdf_sha256,
                "application/pdf",
                retain_until,
            )
        self.before_record()
        version = DocumentVersion(
            number=number,
            object_key=pdf_obj.key,
            object_version_id=pdf_obj.version_id,
            sha256=pdf_sha256,
            size=len(signed.pdf),
            pdf_profile=rendition[0],
            renderer=rendition[1],
            source_object_key=source_obj.key,
            source_object_version_id=source_obj.version_id,
            source_sha256=source_sha256,
            source_size=len(data),
            source_media_type=media_type,
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
                return self._record_version(journal, document_id, version, ctx)
            return self._record_version(
                journal,
                document_id,
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
            with self.sessions.begin() as session:
                document = self._get_or_create_document(session, journal, document_id)
                previous = session.scalar(
                    select(DocumentVersion)
                    .where(DocumentVersion.document_id == document.id)
                    .order_by(DocumentVersion.number.desc())
                    .limit(1)
                )
                if (previous.number if previous else 0) != version.number - 1:
                    raise Conflict(
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
        except IntegrityError:
            # A concurrent upload of the same export won the race: answer as for a duplicate.
            existing = self._plan_version(journal, version.source_sha256)
            if isinstance(existing, IngestResult):
                return existing
            raise Conflict(
                "Another upload of this journal was archived at the same time; upload again."
            ) from None
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(
                "The database is unavailable; the document was not recorded. Upload again later."
            ) from exc
        self._after_append(event)
        return IngestResult(view, view["versions"][-1], True)

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
        self, key: str, data: bytes, sha256: str, content_type: str, retain_until: dt.datetime
    ) -> StoredObject:
        """Write-once put that accepts an identical object left by an interrupted attempt."""
        try:
            return self.store.put(
                key, data, sha256=sha256, content_type=content_type, retain_until=retain_until
            )
        except ObjectExistsError:
            # The key's current version may be a delete marker or another version; what counts
            # is whether a complete version with exactly these bytes is there to be recorded.
            existing = self.store.find(key, sha256=sha256)
            if existing is None:
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

    # ------------------------------------------------------- external signing

    def _prepare_signing_request(
        self,
        signer: ExternalPadesSigner,
        journal: Journal,
        data: bytes,
        filename: str,
        media_type: str,
        source_sha256: str,
        document_id: str,
        number: int,
        ctx: RequestContext,
    ) -> PendingSignature:
        """Render and prepare for the outside party; keep it in the database, not the store."""
        edrpou = journal.institution.edrpou
        waiting = self._waiting_request(edrpou, source_sha256)
        if waiting is not None:
            self._record(
                ctx, "signing.prepare", "duplicate", waiting["document_id"],
                waiting["version"], None, {"request_id": waiting["request_id"]},
            )
            return PendingSignature(waiting, created=False)
        cert = signer.certificate
        note = EXTERNAL_VERIFICATION_NOTE.format(
            subject=subject_text(cert), serial=serial_hex(cert), issuer=issuer_text(cert)
        )
        with self._stage("render"):
            rendered = self._render(journal, data, filename, media_type, document_id, number, note)
        with self._stage("sign"):
            prepared = signer.prepare(
                rendered.pdf, reason=SIGNING_REASON, location=journal.institution.name
            )
        now = utcnow()
        request = SigningRequest(
            id=str(uuid.uuid4()),
            state="pending",
            institution_edrpou=edrpou,
            institution_name=journal.institution.name,
            school_year=journal.school_year.label,
            class_name=journal.school_class.name,
            document_id=document_id,
            version_number=number,
            source=data,
            source_sha256=source_sha256,
            source_media_type=media_type,
            source_filename=filename,
            prepared_pdf=prepared.pdf,
            pdf_profile=rendered.profile,
            renderer=rendered.renderer,
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
            expires_at=now + signer.valid_for,
        )
        detail = {
            "request_id": request.id,
            "source_sha256": source_sha256,
            "signer_serial": request.signer_serial,
            "expires_at": iso(request.expires_at),
        }
        try:
            with self._audit_lock, self.sessions.begin() as session:
                session.add(request)
                session.flush()
                event = audit.append_event(
                    session,
                    self._event(
                        ctx, "signing.prepare", "prepared", document_id, number,
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
            return self._store_signed(
                journal, request.source, request.source_filename, request.source_media_type,
                request.source_sha256, request.document_id, request.version_number,
                (request.pdf_profile, request.renderer), signed, ctx, finishing=request,
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

    def _finish_signature(self, request: SigningRequest, answer: SignatureAnswer) -> SignedDocument:
        signer = self.signer_for(request.institution_edrpou)
        if not isinstance(signer, ExternalPadesSigner):
            raise ServiceUnavailable(
                "This institution is no longer configured for an external signer; upload the "
                "export again."
            )
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
            return signer.finish(prepared, answer)

    # ---------------------------------------------------------------- reading

    def _require_reader(self, ctx: RequestContext, action: str, document_id: str | None) -> None:
        if ctx.actor.role not in READERS:
            exc = Forbidden(f"The {ctx.actor.role.value} role may not read archived documents.")
            self._record_best_effort(
                ctx, action, "denied", document_id=document_id, detail=self._error(exc)
            )
            raise exc

    def _load_document(self, ctx: RequestContext, action: str, document_id: str) -> Document:
        """The document (versions loaded) if it exists *and* is in the actor's scope.

        Anything else is NotFound, recorded only after the read session is closed: SQLite
        sessions hold the write lock, and the audit append needs it.
        """
        with self.reader() as session:
            document = session.get(Document, document_id, options=[selectinload(Document.versions)])
            visible = document is not None and ctx.actor.in_scope(document.institution.edrpou)
        if not visible or document is None:
            raise self._not_visible(ctx, action, document_id)
        return document

    @staticmethod
    def _pick_version(document: Document, number: int | None) -> DocumentVersion:
        return pick_version(document.id, document.versions, number)

    def _check_purpose(self, ctx: RequestContext) -> None:
        if self.require_purpose and ctx.actor.role is Role.INSPECTOR and not ctx.purpose:
            raise InvalidInput(
                "State the purpose of this retrieval in the X-Purpose header (e.g. the "
                "inspection order number).",
                [ErrorDetail("header:X-Purpose", "required")],
            )

    def retrieve(
        self,
        document_id: str,
        version: int | None,
        what: Literal["pdf", "source"],
        ctx: RequestContext,
    ) -> Retrieval:
        """Read a version's signed PDF or original export; audited before it is returned."""
        action = f"retrieve_{what}"
        self._require_reader(ctx, action, document_id)
        self._check_purpose(ctx)
        document = self._locate_visible(ctx, action, document_id)
        chosen = pick_version(document.id, document.versions, version)
        year = document.school_year.replace("/", "-")
        if what == "pdf":
            key, object_version, sha256, media_type = (
                chosen.object_key,
                chosen.object_version_id,
                chosen.sha256,
                "application/pdf",
            )
            filename = f"journal-{year}-v{chosen.number}.pdf"
        else:
            key, object_version, sha256, media_type = (
                chosen.source_object_key,
                chosen.source_object_version_id,
                chosen.source_sha256,
                chosen.source_media_type,
            )
            filename = f"journal-{year}-v{chosen.number}-source.{key.rsplit('.', 1)[-1]}"
        data = self._read_checked(
            key, object_version, sha256, ctx, action, document_id, chosen.number
        )
        self._record_retrieval(
            self._event(ctx, action, "ok", document_id, chosen.number, sha256, {"object_key": key})
        )
        return Retrieval(data, media_type, filename, sha256, document_id, chosen.number)

    def _read_checked(
        self,
        key: str,
        object_version: str,
        sha256: str,
        ctx: RequestContext,
        action: str,
        document_id: str,
        number: int,
    ) -> bytes:
        try:
            return self.store.get(key, sha256=sha256, version_id=object_version)
        except (IntegrityFailure, ObjectNotFoundError) as exc:
            self._record_best_effort(
                ctx,
                action,
                "integrity_failure",
                document_id=document_id,
                version=number,
                sha256=sha256,
                detail=self._error(exc),
            )
            if isinstance(exc, ObjectNotFoundError):
                raise IntegrityFailure(
                    f"The archived object {key} is missing from the store; "
                    "run `archive-service reconcile` and alert the archive's administrator."
                ) from exc
            raise

    def verify_document(
        self, document_id: str, version: int | None, ctx: RequestContext
    ) -> Verification:
        """Re-hash the stored PDF against the record and validate its signatures.

        A hash mismatch or a missing object is reported in the result (and audited as
        ``integrity_failure``), not raised: the caller asked whether the copy is sound.
        """
        self._require_reader(ctx, "verify", document_id)
        document = self._load_document(ctx, "verify", document_id)
        chosen = self._pick_version(document, version)
        archived = ArchivedVersion(document_id, chosen.number)
        try:
            data = self.store.get(
                chosen.object_key, sha256=chosen.sha256, version_id=chosen.object_version_id
            )
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
        outcome = "integrity_failure" if verification.verdict == "integrity_failure" else (
            "valid" if verification.valid else "invalid"
        )
        self._record(ctx, "verify", outcome, document_id, chosen.number, chosen.sha256)
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
            "valid" if verification.valid else "invalid",
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
        validation = validate_pdf(data, self.trust_roots)  # UnreadablePdf is a MalformedInput
        return Verification(
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            validated_at=validated_at,
            validation=validation,
            archived=archived,
            evidence=signature_evidence(data),
        )

    def get_document(self, document_id: str, ctx: RequestContext) -> dict[str, Any]:
        self._require_reader(ctx, "read_metadata", document_id)
        view = document_view(
            self._load_document(ctx, "read_metadata", document_id), all_versions=True
        )
        self._record(ctx, "read_metadata", "ok", document_id, None, None)
        return view

    def list_documents(
        self, filters: DocumentFilter, page: int, ctx: RequestContext
    ) -> dict[str, Any]:
        """A page of documents in the actor's scope, newest first."""
        self._require_reader(ctx, "search", None)
        if page < 1:
            raise InvalidInput("Pages are numbered from 1.", [ErrorDetail("page", "must be ≥ 1")])
        query = select(Document).join(Institution)
        institution = filters.institution
        if ctx.actor.institution is not None:
            if institution not in (None, ctx.actor.institution):
                institution = "-"  # outside the scope: an empty result, as for a missing one
            else:
                institution = ctx.actor.institution
        if institution:
            query = query.where(Institution.edrpou == institution)
        if filters.school_year:
            query = query.where(Document.school_year == filters.school_year)
        if filters.class_name:
            query = query.where(Document.class_name == filters.class_name)
        with self.reader() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            documents = session.scalars(
                query.options(selectinload(Document.versions))
                .order_by(Document.created_at.desc(), Document.id)
                .offset((page - 1) * self.page_size)
                .limit(self.page_size)
            ).all()
            items = [document_view(d, all_versions=False) for d in documents]
        self._record(
            ctx,
            "search",
            "ok",
            None,
            None,
            None,
            {k: v for k, v in vars(filters).items() if v} | {"page": page},
        )
        return {"items": items, "page": page, "page_size": self.page_size, "total": total}

    # ------------------------------------------------------------ legal hold

    def set_legal_hold(
        self, document_id: str, number: int, *, on: bool, reason: str, ctx: RequestContext
    ) -> dict[str, Any]:
        """Set or clear the legal hold on every stored object of one version (admin only).

        The objects change first, then the row and its audit event in one transaction: if the
        database cannot be written, the objects are held (the safe side) and the call fails, so
        the admin repeats it — setting a hold twice is harmless.
        """
        action = "legal_hold.set" if on else "legal_hold.clear"
        try:
            if ctx.actor.role is not Role.ADMIN:
                raise Forbidden("Only admin tokens may set or clear legal holds.")
            reason = self._legal_hold_reason(reason)
        except ArchiveError as exc:
            self._record_best_effort(
                ctx,
                action,
                self._outcome(exc),
                document_id=document_id,
                version=number,
                detail=self._error(exc),
            )
            raise
        chosen = self._pick_version(self._load_document(ctx, action, document_id), number)
        objects = [
            (chosen.object_key, chosen.object_version_id),
            (chosen.source_object_key, chosen.source_object_version_id),
        ]
        try:
            for key, object_version in objects:
                self._hold_object(key, object_version, on)
        except ArchiveError as exc:
            self._record_best_effort(
                ctx,
                action,
                "failed",
                document_id=document_id,
                version=number,
                sha256=chosen.sha256,
                detail=self._error(exc) | {"reason": reason},
            )
            raise
        return self._record_legal_hold(chosen.id, on, reason, action, ctx)

    @staticmethod
    def _legal_hold_reason(reason: str | None) -> str:
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput(
                "State why the legal hold is set or cleared (e.g. the court case or order "
                "number); the reason is kept with the version and in the audit log.",
                [ErrorDetail("reason", "required, non-empty")],
            )
        if len(reason) > MAX_LEGAL_HOLD_REASON:
            raise InvalidInput(
                f"The reason is longer than {MAX_LEGAL_HOLD_REASON} characters; cite the "
                "document that orders the hold instead of quoting it.",
                [ErrorDetail("reason", f"at most {MAX_LEGAL_HOLD_REASON} characters")],
            )
        return reason

    def _hold_object(self, key: str, object_version: str, on: bool) -> None:
        stored = self.store.set_legal_hold(key, object_version, on=on)
        if stored.legal_hold is not on:
            raise StorageUnavailable(
                f"The store did not confirm the legal hold change on {key}; nothing was "
                "recorded. Try again; if it persists, check the store's Object Lock settings."
            )

    def _record_legal_hold(
        self, version_id: int, on: bool, reason: str, action: str, ctx: RequestContext
    ) -> dict[str, Any]:
        try:
            with self._audit_lock, self.sessions.begin() as session:
                version = session.get_one(DocumentVersion, version_id)
                version.legal_hold = on
                version.legal_hold_reason = reason
                version.legal_hold_changed_by = (
                    f"{ctx.actor.name} ({ctx.actor.token_id or ctx.actor.role.value})"
                )
                version.legal_hold_changed_at = utcnow()
                event = audit.append_event(
                    session,
                    self._event(
                        ctx,
                        action,
                        "ok",
                        version.document_id,
                        version.number,
                        version.sha256,
                        {
                            "reason": reason,
                            "objects": [version.object_key, version.source_object_key],
                        },
                    ),
                )
                state = {
                    "document_id": version.document_id,
                    "version": version.number,
                    "legal_hold": legal_hold_view(version),
                }
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(
                "The store's objects were changed but the database could not record it; "
                "repeat the request (it is safe to repeat)."
            ) from exc
        self._after_append(event)
        return state

    def legal_holds(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """Every version under legal hold now (admin only), oldest hold first."""
        if ctx.actor.role is not Role.ADMIN:
            raise Forbidden("Only admin tokens may list legal holds.")
        with self.reader() as session:
            held = session.scalars(
                select(DocumentVersion)
                .where(DocumentVersion.legal_hold.is_(True))
                .order_by(DocumentVersion.legal_hold_changed_at, DocumentVersion.id)
            ).all()
            return [
                {
                    "document_id": v.document_id,
                    "version": v.number,
                    "legal_hold": legal_hold_view(v),
                }
                for v in held
            ]

    # ------------------------------------------------------ timestamp renewal

    def renew_timestamps(
        self,
        due_before: dt.datetime,
        *,
        ctx: RequestContext,
        progress: Callable[[RenewalItem], None] | None = None,
        dry_run: bool = False,
    ) -> RenewalReport:
        """Keep each document's newest version verifiable past ``due_before`` (admin, job).

        Every newest version whose newest timestamp's TSA certificate expires before
        ``due_before`` (and every one below B-LTA: see :mod:`archive_service.renewal`) is read
        and re-hashed, extended or renewed to B-LTA with :attr:`renewal_timestamper`, stored
        write-once under the renewed version's retention, and recorded as a new version that
        renews it, with its ``renew`` audit event in the same transaction — objects first, then
        the row. A document that fails is reported (and audited as failed) and the run goes on;
        nothing of it is recorded. ``dry_run`` only lists what is due and changes nothing.

        :param progress: called with each due version's outcome as soon as it is known.
        """
        if ctx.actor.role not in (Role.ADMIN, Role.JOB):
            exc = Forbidden(f"The {ctx.actor.role.value} role may not renew timestamps.")
            self._record_best_effort(ctx, "renew", "denied", detail=self._error(exc))
            raise exc
        if not dry_run and self.renewal_timestamper is None:
            raise ServiceUnavailable(
                "No renewal TSA is configured, so no timestamp can be renewed; nothing changed."
            )
        due_before = utc(due_before)
        with self.reader() as session:
            candidates = [
                c for c in due_candidates(session, due_before) if ctx.actor.in_scope(c.edrpou)
            ]
        items = []
        for candidate in candidates:
            item = self._renew_version(candidate, due_before, ctx, dry_run)
            if item is None:
                continue
            items.append(item)
            if progress is not None:
                progress(item)
        return RenewalReport(due_before, dry_run, len(candidates), tuple(items))

    def _renew_version(
        self,
        candidate: RenewalCandidate,
        due_before: dt.datetime,
        ctx: RequestContext,
        dry_run: bool,
    ) -> RenewalItem | None:
        """Renew one version, or say why not; None when its PDF shows it is not due after all."""
        item = RenewalItem(
            document_id=candidate.document_id,
            version=candidate.number,
            status="due",
            level_before=candidate.signature_level,
            timestamp_expired_at=candidate.timestamp_expires_at,
        )
        pdf: bytes | None = None
        try:
            if candidate.timestamp_expires_at is None:
                # Recorded before the date was kept: the PDF itself says when it is due.
                pdf = self._read_for_renewal(candidate)
                expires_at = timestamp_expiry(pdf).expires_at
                item = replace(item, timestamp_expired_at=expires_at)
                if not is_due(candidate.signature_level, expires_at, due_before):
                    return None
            if dry_run:
                return item
            renewed = self._extend_or_renew(pdf or self._read_for_renewal(candidate))
            number = self._store_and_record_renewal(candidate, renewed, ctx)
        except ArchiveError as exc:
            self._record_best_effort(
                ctx,
                "renew",
                "failed",
                document_id=candidate.document_id,
                version=candidate.number,
                sha256=candidate.sha256,
                detail=self._error(exc) | {"renews": candidate.number, "new_version": None},
            )
            return replace(item, status="failed", error=exc.code, message=exc.message)
        return replace(
            item,
            status="renewed",
            new_version=number,
            level_after=renewed.level,
            timestamp_expires_at=renewed.timestamp_expires_at,
        )

    def _read_for_renewal(self, candidate: RenewalCandidate) -> bytes:
        """The version's PDF, re-hashed against the record (the store checks it too)."""
        try:
            data = self.store.get(
                candidate.object_key,
                sha256=candidate.sha256,
                version_id=candidate.object_version_id,
            )
        except ObjectNotFoundError as exc:
            raise IntegrityFailure(
                f"The archived object {candidate.object_key} is missing from the store; "
                "run `archive-service reconcile` and alert the archive's administrator."
            ) from exc
        if hashlib.sha256(data).hexdigest() != candidate.sha256:
            raise IntegrityFailure(
                f"The archived object {candidate.object_key} does not match its recorded "
                "SHA-256; it was not renewed. Alert the archive's administrator."
            )
        return data

    def _extend_or_renew(self, pdf: bytes) -> RenewedDocument:
        assert self.renewal_timestamper is not None
        with self._stage("renew"):
            renewed = extend_or_renew(
                pdf,
                self.renewal_timestamper,
                trust_roots=self.trust_roots,
                fetcher_backend=self.fetcher_backend,
            )
        if renewed.level != "B-LTA":  # invariant 6: never record a weaker level than promised
            raise SigningError(f"The renewal was confirmed only as {renewed.level}, not B-LTA.")
        return renewed

    def _store_and_record_renewal(
        self, candidate: RenewalCandidate, renewed: RenewedDocument, ctx: RequestContext
    ) -> int:
        """Store the renewed PDF write-once, then commit its version row and audit event."""
        number = candidate.number + 1
        sha256 = hashlib.sha256(renewed.pdf).hexdigest()
        prefix = version_prefix(
            candidate.edrpou,
            candidate.school_year,
            candidate.class_name,
            candidate.document_id,
            number,
        )
        with self._stage("store"):
            try:
                stored = self._put_once(
                    f"{prefix}/journal-{sha256}.pdf",
                    renewed.pdf,
                    sha256,
                    "application/pdf",
                    candidate.retain_until,
                )
            except StorageUnavailable as exc:
                raise StorageUnavailable(
                    "The object store could not be reached, so the renewal was not stored and "
                    f"nothing was recorded; the next run will try again. ({exc.message})"
                ) from exc
        self.before_record()
        try:
            with self._audit_lock, self.sessions.begin() as session:
                renewed_row = session.get_one(DocumentVersion, candidate.version_id)
                newest = session.scalar(
                    select(func.max(DocumentVersion.number)).where(
                        DocumentVersion.document_id == candidate.document_id
                    )
                )
                if newest != candidate.number:
                    raise Conflict(
                        f"Version {newest} of the document was archived meanwhile; the renewal "
                        f"of version {candidate.number} was not recorded (its stored PDF is "
                        "left for reconcile). The next run renews the new version if it is due."
                    )
                session.add(self._renewal_row(renewed_row, renewed, stored, sha256, number))
                session.flush()
                event = audit.append_event(
                    session,
                    self._event(
                        ctx,
                        "renew",
                        "ok",
                        candidate.document_id,
                        number,
                        sha256,
                        {
                            "renews": candidate.number,
                            "new_version": number,
                            "renewed_sha256": candidate.sha256,
                            "level_before": candidate.signature_level,
                            "level": renewed.level,
                            "timestamp_expires_at": iso(renewed.timestamp_expires_at),
                            "object_key": stored.key,
                        },
                    ),
                )
        except IntegrityError as exc:
            raise Conflict(
                "Another version of this document was recorded at the same time; the renewal "
                "was not recorded. The next run will try again."
            ) from exc
        except SQLAlchemyError as exc:
            raise ServiceUnavailable(
                "The database is unavailable; the renewal was stored but not recorded (reconcile "
                "lists it). The next run will try again."
            ) from exc
        self._after_append(event)
        return number

    @staticmethod
    def _renewal_row(
        renewed_row: DocumentVersion,
        renewed: RenewedDocument,
        stored: StoredObject,
        sha256: str,
        number: int,
    ) -> DocumentVersion:
        """The renewal's row: its own PDF and evidence, the renewed version's export."""
        return DocumentVersion(
            document_id=renewed_row.document_id,
            number=number,
            supersedes_id=renewed_row.id,
            renews_id=renewed_row.id,
            object_key=stored.key,
            object_version_id=stored.version_id,
            sha256=sha256,
            size=len(renewed.pdf),
            pdf_profile=renewed_row.pdf_profile,
            renderer=renewed_row.renderer,
            source_object_key=renewed_row.source_object_key,
            source_object_version_id=renewed_row.source_object_version_id,
            source_sha256=renewed_row.source_sha256,
            source_size=renewed_row.source_size,
            source_media_type=renewed_row.source_media_type,
            signature_level=renewed.level,
            signed_at=renewed_row.signed_at,
            signer_kind=renewed_row.signer_kind,
            signer_subject=renewed_row.signer_subject,
            signer_serial=renewed_row.signer_serial,
            signer_issuer=renewed_row.signer_issuer,
            qualified=renewed_row.qualified,
            retain_until=renewed_row.retain_until,
            timestamp_expires_at=renewed.timestamp_expires_at,
        )

    # -------------------------------------------------------------- reconcile

    def reconcile(self, progress: Callable[[int], None] | None = None) -> ReconcileReport:
        """Orphans, stale rows and incomplete writes (read-only; see :mod:`reconcile`)."""
        return reconcile(self.store, self.reader, progress)

    # ------------------------------------------------------------------ audit

    @staticmethod
    def _require_audit_reader(ctx: RequestContext) -> None:
        if ctx.actor.role is not Role.ADMIN:
            raise Forbidden("Only admin tokens may read the audit log.")

    @staticmethod
    def _audit_query(filters: AuditFilter) -> Select[tuple[AuditEvent]]:
        query = select(AuditEvent).where(AuditEvent.seq > filters.after_seq)
        if filters.document_id:
            query = query.where(AuditEvent.document_id == filters.document_id)
        if filters.actor:
            query = query.where(AuditEvent.actor_token_id == filters.actor)
        if filters.action:
            query = query.where(AuditEvent.action == filters.action)
        if filters.since:
            query = query.where(AuditEvent.occurred_at >= filters.since)
        if filters.until:
            query = query.where(AuditEvent.occurred_at < filters.until)
        return query

    def audit_events(self, filters: AuditFilter, ctx: RequestContext) -> list[dict[str, Any]]:
        self._require_audit_reader(ctx)
        query = self._audit_query(filters)
        with self.reader() as session:
            events = session.scalars(
                query.order_by(AuditEvent.seq).limit(max(1, min(filters.limit, 1000)))
            ).all()
            return [audit.event_as_dict(e) for e in events]

    def export_audit_events(
        self, filters: AuditFilter, ctx: RequestContext
    ) -> Iterator[dict[str, Any]]:
        """Every matching event up to the current head, in chain order, read page by page.

        The export is itself recorded before anything is returned. Each page is read in its own
        short session: an SQLite session holds the write lock, and a slow reader of a long export
        must not stall every audited request meanwhile.
        """
        self._require_audit_reader(ctx)
        detail = {k: str(v) for k, v in vars(filters).items() if v and k != "limit"}
        head = self._record(ctx, "audit_export", "ok", None, None, None, detail)
        query = self._audit_query(filters).where(AuditEvent.seq <= head.seq)
        return self._pages(query, filters.after_seq)

    def _pages(
        self, query: Select[tuple[AuditEvent]], after_seq: int, page_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        while True:
            with self.reader() as session:
                page = [
                    audit.event_as_dict(e)
                    for e in session.scalars(
                        query.where(AuditEvent.seq > after_seq)
                        .order_by(AuditEvent.seq)
                        .limit(page_size)
                    )
                ]
            if not page:
                return
            yield from page
            after_seq = page[-1]["seq"]

    def verify_audit_chain(self) -> audit.ChainReport:
        """Recompute the chain and compare it with every checkpoint in write-once storage.

        Checkpoints are read first, so one written meanwhile cannot look like a cut tail.
        """
        checkpoints: list[audit.Checkpoint] = []
        unreadable: list[audit.ChainProblem] = []
        if self.checkpoints is not None:
            checkpoints, unreadable = self.checkpoints.read_all()
        with self.reader() as session:
            report = audit.verify_chain(session, checkpoints)
        if not unreadable:
            return report
        problems = tuple(sorted((*report.problems, *unreadable), key=lambda p: p.seq))
        return replace(report, problems=problems)

    def write_audit_checkpoint(self) -> audit.Checkpoint | None:
        """Checkpoint the chain head now (None while the log is empty)."""
        if self.checkpoints is None:
            raise ServiceUnavailable("No object store is configured for audit checkpoints.")
        return self.checkpoints.write()

    def record_unauthenticated(
        self, client_address: str | None, token_id: str | None, detail: dict[str, Any]
    ) -> None:
        """Record a request refused for want of a valid token: one small insert, best effort.

        :param token_id: the public id part of a presented token, only if it is well formed;
            never the secret or the raw header.
        """
        data = audit.EventData(
            action="authenticate",
            outcome="denied",
            actor_token_id=token_id,
            client_address=client_address,
            detail=detail,
        )
        with suppress(ServiceUnavailable):
            self._commit_event(data)

    def record(
        self, ctx: RequestContext, action: str, outcome: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Record an event that is not about a document (token changes, denied requests)."""
        self._record(ctx, action, outcome, None, None, None, detail or {})

    # -------------------------------------------------------------- internals

    @staticmethod
    def _event(
        ctx: RequestContext,
        action: str,
        outcome: str,
        document_id: str | None,
        version: int | None,
        sha256: str | None,
        detail: dict[str, Any] | None = None,
    ) -> audit.EventData:
        return audit.EventData(
            action=action,
            outcome=outcome,
            actor_token_id=ctx.actor.token_id,
            actor_name=ctx.actor.name,
            actor_role=ctx.actor.role.value,
            document_id=document_id,
            version_number=version,
            sha256=sha256,
            client_address=ctx.client_address,
            purpose=ctx.purpose,
            detail=detail or {},
        )

    def _record(
        self,
        ctx: RequestContext,
        action: str,
        outcome: str,
        document_id: str | None,
        version: int | None,
        sha256: str | None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Commit one audit event or fail loudly: callers must not proceed without it."""
        return self._commit_event(
            self._event(ctx, action, outcome, document_id, version, sha256, detail)
        )

    def _commit_event(self, data: audit.EventData) -> AuditEvent:
        try:
            # Threads of this process queue here rather than in SQLite's busy handler, whose
            # growing sleeps made the latency tail; other processes still meet the DB lock.
            with self._audit_lock, self.sessions.begin() as session:
                event = audit.append_event(session, data)
        except SQLAlchemyError as exc:
            log.error("audit event %s/%s could not be written: %s", data.action, data.outcome, exc)
            raise ServiceUnavailable(
                "The audit log cannot be written, so the request was refused and nothing was "
                "sent. Try again later; if it persists, tell the archive's administrator."
            ) from exc
        self._after_append(event)
        return event

    def _after_append(self, event: AuditEvent) -> None:
        if self.checkpoints is not None:
            self.checkpoints.after_append(event.seq, event.hash)

    def _record_best_effort(
        self,
        ctx: RequestContext,
        action: str,
        outcome: str,
        *,
        document_id: str | None = None,
        version: int | None = None,
        sha256: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record a refusal; the refusal stands even if the log is down."""
        with suppress(ServiceUnavailable):
            self._record(ctx, action, outcome, document_id, version, sha256, detail)

    @staticmethod
    def _outcome(exc: ArchiveError) -> str:
        return "denied" if exc.status in (401, 403) else "refused"

    @staticmethod
    def _error(exc: ArchiveError) -> dict[str, Any]:
        return {
            "error": exc.code,
            "message": exc.message[:500],
            "details": [d.as_dict() for d in exc.details[:20]],
        }

    # ------------------------------------------------------- download hot path

    def _locate_visible(
        self, ctx: RequestContext, action: str, document_id: str
    ) -> DocumentLocation:
        """Like :meth:`_load_document`, without ORM objects: downloads need only coordinates."""
        with self.reader() as session:
            document = locate_document(session, document_id)
        if document is None or not ctx.actor.in_scope(document.edrpou):
            raise self._not_visible(ctx, action, document_id)
        return document

    def _not_visible(self, ctx: RequestContext, action: str, document_id: str) -> NotFound:
        """Audit a look at a missing or out-of-scope document; both get the same answer.

        Called only after the read session is closed: SQLite sessions may hold the write lock,
        and the audit append needs it.
        """
        self._record_best_effort(ctx, action, "not_found", document_id=document_id)
        return NotFound(
            f"No document {document_id!r} is visible to this token.",
            [ErrorDetail("document_id", "unknown or outside the token's scope")],
        )

    def _record_retrieval(self, data: audit.EventData) -> None:
        """Commit a download's event, sharing the transaction with concurrent downloads.

        Returns only once the event is committed. If the shared transaction fails, the event
        is appended alone, which refuses this download (ServiceUnavailable) only if its own
        event cannot be written.
        """
        try:
            event = self._audit_group.append(data)
        except BatchFailed:
            self._commit_event(data)
            return
        self._after_append(event)

    @cached_property
    def _audit_group(self) -> GroupCommit:
        return GroupCommit(self.sessions, self._audit_lock)
