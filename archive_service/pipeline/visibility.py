"""Who may see a document: role checks and the one answer for missing or out-of-scope ones.

Shared by every reading use case (retrieval, verification, metadata, legal holds) so that
a document outside the caller's scope is refused, and audited, exactly like a missing one.
"""

from __future__ import annotations

from sqlalchemy.orm import selectinload

from archive_service.access import READERS
from archive_service.db import Document, DocumentVersion
from archive_service.errors import ErrorDetail, Forbidden, NotFound
from archive_service.fast_reads import DocumentLocation, locate_document, pick_version
from archive_service.pipeline.recording import AuditRecordingMixin
from archive_service.pipeline.values import RequestContext


class ReadAccessMixin(AuditRecordingMixin):
    """Reader checks and scope-aware document lookups (audited as ``not_found``)."""

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

    def _locate_visible(
        self, ctx: RequestContext, action: str, document_id: str
    ) -> DocumentLocation:
        """Like :meth:`_load_document`, without ORM objects: downloads need only coordinates."""
        with self.lookup() as connection:
            document = locate_document(connection, document_id)
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
