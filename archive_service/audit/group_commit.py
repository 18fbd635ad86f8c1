"""Group commit: the audit events of concurrent downloads share one transaction and one fsync.

Every download must have its event committed before the first byte leaves (DESIGN.md, invariant
3), and appends are serialised so the chain stays linear. On SQLite with ``synchronous=FULL``
each commit waits for the disk (0.3–3 ms on a busy virtual disk), and a process holding the
append lock through that wait caps the whole server at a few hundred downloads per second.

So a request hands its event to :meth:`GroupCommit.append` and waits. Whichever waiting request
finds no write in progress becomes the leader: it takes every event queued so far, appends them
one after another (each links to the one before, as always) in one transaction under the
process's append lock, commits once, and wakes the others. Nobody proceeds before the commit
that contains its own event has returned; an idle server writes batches of one, so nobody waits
for a batch to fill either. Other processes still meet the database lock, so the chain stays
linear across processes too.

If the shared transaction fails, no event in it was written and every request is told so with
:class:`BatchFailed`; the caller then appends its event alone, which names the real error
without letting one bad event refuse the others' downloads.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from archive_service.audit import chain
from archive_service.db import AuditEvent
from archive_service.db.session import writer_queue

log = logging.getLogger(__name__)


class BatchFailed(Exception):
    """The shared transaction holding this event failed; the event was not written."""


@dataclass
class _Waiting:
    """One caller's event and how its wait ended."""

    data: chain.EventData
    event: AuditEvent | None = None
    done: bool = False
    #: Set when the event is committed (or failed), or when this caller must lead the next batch.
    wake: threading.Event = field(default_factory=threading.Event)


@dataclass
class GroupCommit:
    """Appends audit events of concurrent callers in shared transactions (see module doc)."""

    sessions: sessionmaker[Session]
    #: Taken around each batch: the same lock the process's other appenders take.
    append_lock: threading.Lock
    #: Upper bound on events per transaction, so one commit never grows without limit.
    max_batch: int = 64

    _engine: Engine = field(init=False, repr=False)
    #: Where this process's audit appenders queue behind other processes' writers.
    writers: AbstractContextManager[None] = field(init=False, repr=False)
    _queue: list[_Waiting] = field(default_factory=list, init=False, repr=False)
    _mutex: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _leading: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self._engine = self.sessions.kw["bind"]
        self.writers = writer_queue(self._engine)

    def append(self, data: chain.EventData) -> AuditEvent:
        """Return once the event is committed at the head of the chain.

        :raises BatchFailed: the transaction holding the event failed; nothing of it was written.
        """
        mine = _Waiting(data)
        with self._mutex:
            self._queue.append(mine)
            lead, self._leading = not self._leading, True
        if not lead:
            mine.wake.wait()  # woken by the leader: committed, failed, or to lead the next batch
            lead = not mine.done
        if lead:
            try:
                while not mine.done:
                    with self._mutex:
                        batch = self._queue[: self.max_batch]
                        del self._queue[: self.max_batch]
                    self._write(batch)
            finally:
                self._hand_on()
        if mine.event is None:
            raise BatchFailed(f"the audit transaction holding a {data.action} event failed")
        return mine.event

    def append_now(self, batch: list[chain.EventData]) -> list[AuditEvent]:
        """Append and commit ``batch`` in one transaction, without joining a group.

        Like every audit append of this process (transactions that commit rows with their
        event take the same two locks), it queues behind this process's other appenders, then
        behind other processes' writers in the kernel rather than in SQLite's busy handler,
        whose growing sleeps made the latency tail. A Core connection, not a Session: between
        taking the locks and committing, every other writer of every process waits, and each
        Python step here also waits for the GIL behind the process's request threads.

        :raises sqlalchemy.exc.SQLAlchemyError: the database's own error; nothing was written.
        """
        with self.append_lock, self.writers, self._engine.begin() as connection:
            return chain.append_events(connection, batch)

    def _hand_on(self) -> None:
        """Wake the oldest waiting caller to lead the next batch, or stop leading."""
        with self._mutex:
            if self._queue:
                self._queue[0].wake.set()
            else:
                self._leading = False

    def _write(self, batch: list[_Waiting]) -> None:
        """Append and commit a batch as the leader, then wake the callers it holds."""
        events: list[AuditEvent | None] = [None] * len(batch)
        try:
            written = self.append_now([waiting.data for waiting in batch])
        except Exception:  # rolled back: each caller appends its event alone and meets the error
            log.debug("a batch of %d audit events failed", len(batch), exc_info=True)
        else:
            events = list(written)
        finally:
            for waiting, event in zip(batch, events, strict=True):
                waiting.event, waiting.done = event, True
                waiting.wake.set()
