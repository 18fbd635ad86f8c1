"""Recording audit events: every use case commits its event through here.

One place decides how an event is shaped from a request, how it is committed (alone or in
a download's shared transaction) and what a refusal records when the log is down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive_service import audit
from archive_service.audit.group_commit import BatchFailed, GroupCommit
from archive_service.db import AuditEvent
from archive_service.errors import ArchiveError, ServiceUnavailable
from archive_service.pipeline.core import ArchiveCore
from archive_service.pipeline.values import RequestContext

log = logging.getLogger(__name__)


class AuditRecordingMixin(ArchiveCore):
    """Audit events for the use cases; nothing proceeds past a required event that failed."""

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
            [event] = self._audit_group.append_now([data])
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

    @contextmanager
    def _audited_transaction(self) -> Iterator[Session]:
        """A write transaction whose rows and audit event commit together.

        It queues where every audit append of this process does (see
        :meth:`GroupCommit.append_now`): behind this process's other appenders, then behind
        other processes' writers.
        """
        with self._audit_lock, self._audit_group.writers, self.sessions.begin() as session:
            yield session

    @cached_property
    def _audit_group(self) -> GroupCommit:
        return GroupCommit(self.sessions, self._audit_lock)
