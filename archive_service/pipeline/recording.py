"""Recording audit events: the use cases' methods, handed over to an
:class:`~archive_service.audit.AuditRecorder` built from the core's fields.

A shim while the use cases are parts of one :class:`~archive_service.pipeline.archive.Archive`;
use cases that hold a recorder call it directly.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from archive_service import audit
from archive_service.audit import AuditRecorder, GroupCommit
from archive_service.db import AuditEvent
from archive_service.pipeline.core import ArchiveCore
from archive_service.pipeline.values import RequestContext


class AuditRecordingMixin(ArchiveCore):
    """Audit events for the use cases; nothing proceeds past a required event that failed."""

    @cached_property
    def audit_recorder(self) -> AuditRecorder:
        return AuditRecorder(self.sessions, self.checkpoints, self._audit_lock)

    def record_unauthenticated(
        self, client_address: str | None, token_id: str | None, detail: dict[str, Any]
    ) -> None:
        """Record a request refused for want of a valid token: one small insert, best effort.

        :param token_id: the public id part of a presented token, only if it is well formed;
            never the secret or the raw header.
        """
        self.audit_recorder.record_unauthenticated(client_address, token_id, detail)

    def record(
        self, ctx: RequestContext, action: str, outcome: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Record an event that is not about a document (token changes, denied requests)."""
        self._record(ctx, action, outcome, None, None, None, detail or {})

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
        return AuditRecorder.event(
            ctx, action, outcome, detail, document_id=document_id, version=version, sha256=sha256
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
        return self.audit_recorder.record(
            self._event(ctx, action, outcome, document_id, version, sha256, detail)
        )

    def _after_append(self, event: AuditEvent) -> None:
        self.audit_recorder.committed(event)

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
        self.audit_recorder.record_best_effort(
            self._event(ctx, action, outcome, document_id, version, sha256, detail)
        )

    _outcome = staticmethod(AuditRecorder.outcome)
    _error = staticmethod(AuditRecorder.error_detail)

    def _record_retrieval(self, data: audit.EventData) -> None:
        """See :meth:`AuditRecorder.record_retrieval`."""
        self.audit_recorder.record_retrieval(data)

    def _audited_transaction(self) -> AbstractContextManager[Session]:
        """See :meth:`AuditRecorder.transaction`."""
        return self.audit_recorder.transaction()

    @property
    def _audit_group(self) -> GroupCommit:
        return self.audit_recorder.group
