"""Timestamp renewals: keep newest versions verifiable as their TSA certificates expire.

Which versions are due is :mod:`archive_service.renewal`'s rule; here they are read,
renewed to B-LTA, stored write-once and recorded as new versions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from archive_service import audit
from archive_service.access import Role
from archive_service.db import DocumentVersion
from archive_service.errors import (
    ArchiveError,
    Conflict,
    Forbidden,
    IntegrityFailure,
    ServiceUnavailable,
)
from archive_service.object_identity import pdf_identity
from archive_service.object_keys import version_prefix
from archive_service.pipeline.values import RequestContext
from archive_service.pipeline.versions import VersionWriterMixin
from archive_service.renewal import (
    RenewalCandidate,
    RenewalItem,
    RenewalReport,
    due_candidates,
    is_due,
    utc,
)
from archive_service.signing import SigningError
from archive_service.signing.long_term import RenewedDocument, extend_or_renew, timestamp_expiry
from archive_service.storage import ObjectNotFoundError, StorageUnavailable, StoredObject
from archive_service.views import iso

#: What a renewal keeps of the version it renews: the same rendering of the same export, sealed
#: by the same signer at the same time (only timestamps are added), kept as long.
_CARRIED_OVER = (
    "pdf_profile",
    "renderer",
    "source_object_key",
    "source_object_version_id",
    "source_sha256",
    "source_size",
    "source_media_type",
    "signed_at",
    "signer_kind",
    "signer_subject",
    "signer_serial",
    "signer_issuer",
    "qualified",
    "retain_until",
)


class RenewalsMixin(VersionWriterMixin):
    """Archive timestamp renewal runs (admin, job)."""

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
        and re-hashed, extended or renewed to B-LTA with the sealing's renewal TSA, stored
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
        if not dry_run and self.sealing.renewal_timestamper is None:
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
        """The version's PDF, re-hashed against the record (the store checks it too).

        Its identity is checked as on a download: renewing another document's PDF would store
        it anew under this document's identity, laundering a swapped row for good.
        """
        try:
            data = self.store.get(
                candidate.object_key,
                sha256=candidate.sha256,
                version_id=candidate.object_version_id,
                identity=pdf_identity(
                    candidate.document_id,
                    candidate.edrpou,
                    candidate.number,
                    candidate.source_sha256,
                ),
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
        assert self.sealing.renewal_timestamper is not None
        with self._stage("renew"):
            renewed = extend_or_renew(
                pdf,
                self.sealing.renewal_timestamper,
                trust_roots=self.sealing.trust_roots,
                fetcher_backend=self.sealing.fetcher_backend,
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
                    pdf_identity(
                        candidate.document_id, candidate.edrpou, number, candidate.source_sha256
                    ),
                )
            except StorageUnavailable as exc:
                raise StorageUnavailable(
                    "The object store could not be reached, so the renewal was not stored and "
                    f"nothing was recorded; the next run will try again. ({exc.message})"
                ) from exc
        self.before_record()
        try:
            with self._audited_transaction() as session:
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
            signature_level=renewed.level,
            timestamp_expires_at=renewed.timestamp_expires_at,
            **{column: getattr(renewed_row, column) for column in _CARRIED_OVER},
        )
