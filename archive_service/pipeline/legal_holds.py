"""Legal holds: an admin freezes (or releases) one version's objects beyond retention."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from archive_service import audit
from archive_service.access import Role
from archive_service.db import DocumentVersion, utcnow
from archive_service.errors import (
    ArchiveError,
    ErrorDetail,
    Forbidden,
    InvalidInput,
    ServiceUnavailable,
)
from archive_service.pipeline.values import RequestContext
from archive_service.pipeline.visibility import ReadAccessMixin
from archive_service.storage import StorageUnavailable
from archive_service.views import legal_hold_view

#: Longest accepted legal-hold reason (a case or order number and a few words).
MAX_LEGAL_HOLD_REASON = 1000


class LegalHoldsMixin(ReadAccessMixin):
    """Setting, clearing and listing legal holds (admin only)."""

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
            with self._audited_transaction() as session:
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
