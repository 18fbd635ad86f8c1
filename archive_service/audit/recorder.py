"""Recording audit events for the use cases: every use case commits its events through here.

One place decides how an event is shaped from a request, how it is committed (alone, in a
download's shared transaction, or in one transaction with the rows it is about) and what a
refusal records when the log is down. A use case holds an :class:`AuditRecorder`; it does not
inherit one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from archive_service.audit.anchors import AuditCheckpoints
from archive_service.audit.chain import EventData
from archive_service.audit.group_commit import BatchFailed, GroupCommit
from archive_service.db import AuditEvent
from archive_service.errors import ArchiveError, ServiceUnavailable

if TYPE_CHECKING:
    from archive_service.access import Actor

log = logging.getLogger(__name__)


class Requester(Protocol):
    """Who asks, from where and why: what an event records besides its action (the use
    cases' ``RequestContext``)."""

    @property
    def actor(self) -> Actor: ...

    @property
    def client_address(self) -> str | None: ...

    @property
    def purpose(self) -> str | None: ...


@dataclass
class AuditRecorder:
    """Commits the use cases' audit events; nothing proceeds past a required event that failed.

    Shape an event with :meth:`event`, then commit it alone (:meth:`record`), best effort
    (:meth:`record_best_effort`), with concurrent downloads' events (:meth:`record_retrieval`),
    or with the rows it is about (:meth:`transaction`, then :meth:`committed`).
    """

    #: Sessions that write.
    sessions: sessionmaker[Session]
    #: Told of every committed event, so the chain head gets anchored; None: no anchors.
    checkpoints: AuditCheckpoints | None = None
    #: This process's append lock, taken around every audit append: grouped, alone, or in a
    #: transaction with rows (:meth:`transaction`).
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: The shared transactions of concurrent downloads' events.
    group: GroupCommit = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.group = GroupCommit(self.sessions, self.lock)

    # -- shaping ------------------------------------------------------------------------------

    @staticmethod
    def event(
        ctx: Requester,
        action: str,
        outcome: str,
        detail: dict[str, Any] | None = None,
        *,
        document_id: str | None = None,
        version: int | None = None,
        sha256: str | None = None,
    ) -> EventData:
        """The event ``ctx`` causes, about a document version if one is named.

        Commit it with :meth:`record`, :meth:`record_best_effort` or :meth:`record_retrieval`,
        or append it in a :meth:`transaction` with
        :func:`~archive_service.audit.chain.append_event`.
        """
        return EventData(
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

    @staticmethod
    def outcome(exc: ArchiveError) -> str:
        """The outcome a refusal records: ``denied`` (401, 403) or ``refused``."""
        return "denied" if exc.status in (401, 403) else "refused"

    @staticmethod
    def error_detail(exc: ArchiveError) -> dict[str, Any]:
        """A refusal's error as an event's detail (bounded in length)."""
        return {
            "error": exc.code,
            "message": exc.message[:500],
            "details": [d.as_dict() for d in exc.details[:20]],
        }

    # -- committing one event -----------------------------------------------------------------

    def record(self, data: EventData) -> AuditEvent:
        """Append and commit one event in a transaction of its own, or fail loudly: callers
        must not proceed without it.

        :raises ServiceUnavailable: the event could not be written.
        """
        try:
            [event] = self.group.append_now([data])
        except SQLAlchemyError as exc:
            log.error("audit event %s/%s could not be written: %s", data.action, data.outcome, exc)
            raise ServiceUnavailable(
                "The audit log cannot be written, so the request was refused and nothing was "
                "sent. Try again later; if it persists, tell the archive's administrator."
            ) from exc
        self.committed(event)
        return event

    def record_best_effort(self, data: EventData) -> None:
        """Record an event nothing waits for (a refusal): if the log is down, the refusal
        stands and the event is lost (the failure is logged)."""
        with suppress(ServiceUnavailable):
            self.record(data)

    def record_unauthenticated(
        self, client_address: str | None, token_id: str | None, detail: dict[str, Any]
    ) -> None:
        """Record a request refused for want of a valid token: one small insert, best effort.

        :param token_id: the public id part of a presented token, only if it is well formed;
            never the secret or the raw header.
        """
        data = EventData(
            action="authenticate",
            outcome="denied",
            actor_token_id=token_id,
            client_address=client_address,
            detail=detail,
        )
        self.record_best_effort(data)

    def record_retrieval(self, data: EventData) -> None:
        """Commit a download's event, sharing the transaction with concurrent downloads.

        Returns only once the event is committed. If the shared transaction fails, the event
        is appended alone, which refuses this download (ServiceUnavailable) only if its own
        event cannot be written.
        """
        try:
            event = self.group.append(data)
        except BatchFailed:
            self.record(data)
            return
        self.committed(event)

    # -- an event committed with the rows it is about -----------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction whose rows and audit event commit together.

        Append the event with :func:`~archive_service.audit.chain.append_event`, and once the
        transaction has committed pass it to :meth:`committed`. It queues where every audit
        append of this process does (see :meth:`GroupCommit.append_now`): behind this process's
        other appenders, then behind other processes' writers.
        """
        with self.lock, self.group.writers, self.sessions.begin() as session:
            yield session

    def committed(self, event: AuditEvent) -> None:
        """Tell the anchors an event is committed (an anchor may be due)."""
        if self.checkpoints is not None:
            self.checkpoints.after_append(event.seq, event.hash)
