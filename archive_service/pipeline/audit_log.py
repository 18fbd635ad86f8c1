"""The audit log's readers: queries, export, chain verification and checkpoints (admin)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy import Select, select

from archive_service import audit
from archive_service.access import Role
from archive_service.db import AuditEvent
from archive_service.errors import Forbidden, ServiceUnavailable
from archive_service.pipeline.recording import AuditRecordingMixin
from archive_service.pipeline.values import AuditFilter, RequestContext


class AuditLogMixin(AuditRecordingMixin):
    """Reading and checking the audit log; the export is itself audited."""

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
        """Recompute the chain and compare it with every anchor in write-once storage.

        Anchors are read first (every version, hidden ones too; only those whose timestamp
        verifies count), so one written meanwhile cannot look like a cut tail; every event
        older than the anchoring window must be covered by one.
        """
        checkpoints: list[audit.Checkpoint] = []
        unreadable: list[audit.ChainProblem] = []
        window: audit.AnchoringWindow | None = None
        if self.checkpoints is not None:
            checkpoints, unreadable = self.checkpoints.read_all()
            window = self.checkpoints.window
        with self.reader() as session:
            report = audit.verify_chain(session, checkpoints, window)
        if not unreadable:
            return report
        problems = tuple(sorted((*report.problems, *unreadable), key=lambda p: p.seq))
        return replace(report, problems=problems)

    def write_audit_checkpoint(self) -> audit.Checkpoint | None:
        """Checkpoint the chain head now (None while the log is empty)."""
        if self.checkpoints is None:
            raise ServiceUnavailable("No object store is configured for audit checkpoints.")
        return self.checkpoints.write()
