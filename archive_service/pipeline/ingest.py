"""Ingest: one export in, one signed archived version (or a signing request) out."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from archive_service.access import UPLOADERS, Actor
from archive_service.errors import ArchiveError, ErrorDetail, Forbidden
from archive_service.journal import ParsedExport, parse_export
from archive_service.journal.model import Journal
from archive_service.object_keys import version_prefix
from archive_service.pipeline.signing_requests import (
    EXTERNAL_VERIFICATION_NOTE,
    SigningRequestsMixin,
)
from archive_service.pipeline.values import IngestResult, PendingSignature, RequestContext
from archive_service.pipeline.versions import SIGNING_REASON, UploadPlan
from archive_service.reconcile import version_of_key
from archive_service.signing.sealing import PreparedDocument, Signatory

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


def _journal_key(journal: Journal) -> tuple[str, str, str]:
    return (journal.institution.edrpou, journal.school_year.label, journal.school_class.name)


class JournalLocks:
    """One re-entrant lock per journal (institution, school year, class) in this process.

    Uploads of the same journal take turns between planning and recording, so concurrent
    uploads of one export in a process render and sign it once: the others then find it
    archived and answer 200 with it. Other processes still race (the database decides, and the
    losers answer the same way); locks of journals nobody uploads are dropped.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str, str], tuple[threading.RLock, list[int]]] = {}

    @contextmanager
    def held(self, key: tuple[str, str, str]) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.RLock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]


class IngestMixin(SigningRequestsMixin):
    """Uploads: parse, check scope, and archive as a new version or prepare for signing."""

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
                parsed = parse_export(
                    data,
                    media_type,
                    max_bytes=self.max_upload_bytes,
                    repertoire=self.renderer.repertoire,
                )
            journal = parsed.journal
            self._check_upload_scope(ctx.actor, journal)
        except ArchiveError as exc:
            self._record_best_effort(ctx, "upload", self._outcome(exc), detail=self._error(exc))
            raise
        with self._journal_locks.held(_journal_key(journal)):
            return self._plan_and_archive(journal, parsed, data, ctx)

    def _plan_and_archive(
        self, journal: Journal, parsed: ParsedExport, data: bytes, ctx: RequestContext
    ) -> IngestResult | PendingSignature:
        """The duplicate answer, or a new version (or signing request) of the journal."""
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
            upload = UploadPlan(
                journal=journal,
                data=data,
                filename=parsed.filename,
                media_type=parsed.media_type,
                source_sha256=source_sha256,
                document_id=document_id,
                number=number,
            )
            return self._archive_new_version(upload, ctx)
        except ArchiveError as exc:
            self._record_best_effort(
                ctx, "upload", "failed", document_id=document_id, detail=self._error(exc)
            )
            raise

    @cached_property
    def _journal_locks(self) -> JournalLocks:
        return JournalLocks()

    def _check_upload_scope(self, actor: Actor, journal: Journal) -> None:
        edrpou = journal.institution.edrpou
        if not actor.in_scope(edrpou):
            raise Forbidden(
                f"This token may upload only for institution {actor.institution}; the export is "
                f"for institution {edrpou}.",
                [ErrorDetail("/institution/edrpou", "institution outside the token's scope")],
            )

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
        self, upload: UploadPlan, ctx: RequestContext
    ) -> IngestResult | PendingSignature:
        """Render, seal, store (objects first, with retention), then record (row + audit).

        A seal prepared for an outside party is kept as a signing request instead; it is
        stored and recorded when the party answers (:meth:`finish_signing_request`).
        """
        institution = upload.journal.institution
        sealer = self.sealing.sealer_for(institution.edrpou)
        if sealer.signatory.outside:  # its answer comes later: one request per export bytes
            waiting = self._waiting_duplicate(upload, ctx)
            if waiting is not None:
                return waiting
        with self._stage("render"):
            rendered = self._render(upload, self._verification_note(sealer.signatory))
        with self._stage("sign"):
            sealed = sealer.seal(rendered.pdf, reason=SIGNING_REASON, location=institution.name)
        rendition = (rendered.profile, rendered.renderer)
        if isinstance(sealed, PreparedDocument):
            return self._prepare_signing_request(sealed, upload, rendition, ctx)
        return self._store_signed(upload, rendition, sealed, ctx)

    def _verification_note(self, signatory: Signatory) -> str:
        """How a reader checks the seal, printed in the document before it is sealed."""
        if signatory.outside:
            return EXTERNAL_VERIFICATION_NOTE.format(
                subject=signatory.subject, serial=signatory.serial, issuer=signatory.issuer
            )
        return TEST_VERIFICATION_NOTE if self.sealing.test_pki else VERIFICATION_NOTE
