"""Retrieval, the download hot path: locate, read and re-hash, audit, then hand over.

The audit event is committed before the bytes are returned (invariant 3); the document is
located without ORM objects because downloads need only its coordinates. The store is given
what the object must have been stored as (invariant 8): an object whose write-once identity
names another document, institution, version or kind is refused like one whose hash differs.
"""

from __future__ import annotations

import logging
from typing import Literal

from archive_service.access import Role
from archive_service.errors import ErrorDetail, IntegrityFailure, InvalidInput
from archive_service.fast_reads import pick_version
from archive_service.pipeline.values import RequestContext, Retrieval
from archive_service.pipeline.visibility import ReadAccessMixin
from archive_service.storage import ObjectNotFoundError, StorageUnavailable

_log = logging.getLogger(__name__)


class RetrievalMixin(ReadAccessMixin):
    """Downloads of a version's signed PDF or original export."""

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
            key, object_version, sha256, media_type, identity = (
                chosen.object_key,
                chosen.object_version_id,
                chosen.sha256,
                "application/pdf",
                chosen.pdf_identity,
            )
            filename = f"journal-{year}-v{chosen.number}.pdf"
        else:
            key, object_version, sha256, media_type, identity = (
                chosen.source_object_key,
                chosen.source_object_version_id,
                chosen.source_sha256,
                chosen.source_media_type,
                chosen.source_identity,
            )
            filename = f"journal-{year}-v{chosen.number}-source.{key.rsplit('.', 1)[-1]}"
        data = self._read_checked(
            key, object_version, sha256, ctx, action, document_id, chosen.number, identity
        )
        detail: dict[str, object] = {"object_key": key}
        store_hold = self._store_legal_hold(key, object_version)
        if store_hold is not chosen.legal_hold:
            detail["legal_hold_drift"] = {"recorded": chosen.legal_hold, "store": store_hold}
            _log.warning(
                "legal hold drift on %s (version %s): recorded %s, store %s; run "
                "`archive-service reconcile`",
                key,
                object_version,
                chosen.legal_hold,
                "unknown" if store_hold is None else store_hold,
            )
        self._record_retrieval(
            self._event(ctx, action, "ok", document_id, chosen.number, sha256, detail)
        )
        return Retrieval(
            data,
            media_type,
            filename,
            sha256,
            document_id,
            chosen.number,
            legal_hold=chosen.legal_hold,
            store_legal_hold=store_hold,
        )

    def _store_legal_hold(self, key: str, object_version: str) -> bool | None:
        """Whether the store holds the object under legal hold now; None if it cannot say.

        Holds change only through the service (store first, then the row), so a difference
        from the row means someone changed the store directly: the download still goes ahead
        (its bytes passed the hash check) but reports the difference instead of hiding it.
        """
        try:
            return self.store.stat(key, object_version).legal_hold
        except (StorageUnavailable, ObjectNotFoundError, IntegrityFailure):
            return None

    def _read_checked(
        self,
        key: str,
        object_version: str,
        sha256: str,
        ctx: RequestContext,
        action: str,
        document_id: str,
        number: int,
        identity: dict[str, str],
    ) -> bytes:
        """The object's bytes, re-hashed and stored as this version's (invariant 8); else
        audited and refused."""
        try:
            return self.store.get(key, sha256=sha256, version_id=object_version, identity=identity)
        except StorageUnavailable as exc:
            # Refused for want of a store, not because of the document: still a look, audited.
            self._record_best_effort(
                ctx,
                action,
                "storage_unavailable",
                document_id=document_id,
                version=number,
                sha256=sha256,
                detail=self._error(exc) | {"object_key": key},
            )
            raise
        except (IntegrityFailure, ObjectNotFoundError) as exc:
            self._record_best_effort(
                ctx,
                action,
                "integrity_failure",
                document_id=document_id,
                version=number,
                sha256=sha256,
                detail=self._error(exc) | {"object_key": key},
            )
            if isinstance(exc, ObjectNotFoundError):
                raise IntegrityFailure(
                    f"The archived object {key} is missing from the store; "
                    "run `archive-service reconcile` and alert the archive's administrator."
                ) from exc
            raise
