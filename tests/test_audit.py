"""The audit log is a hash chain: every kind of tampering is found, and writers never fork it."""

from __future__ import annotations

import threading

from sqlalchemy import delete, select, update

from archive_service import audit
from archive_service.access import LOCAL_OPERATOR
from archive_service.db import AuditEvent
from archive_service.pipeline import Archive, RequestContext

CTX = RequestContext(actor=LOCAL_OPERATOR, client_address="127.0.0.1")


def _fill(archive: Archive, n: int) -> None:
    for i in range(n):
        archive.record(CTX, "test_event", "ok", {"i": i, "text": "ґіїє’"})


def test_intact_chain(archive: Archive) -> None:
    _fill(archive, 5)
    report = archive.verify_audit_chain()
    assert report.intact and report.events == 5 and report.head_seq == 5


def test_edited_event_is_found(archive: Archive) -> None:
    _fill(archive, 5)
    with archive.sessions.begin() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(actor_name="someone else")
        )
    report = archive.verify_audit_chain()
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "edited")]


def test_deleted_event_is_found(archive: Archive) -> None:
    _fill(archive, 5)
    with archive.sessions.begin() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    kinds = {(p.seq, p.kind) for p in archive.verify_audit_chain().problems}
    assert (3, "gap") in kinds and (3, "broken_link") in kinds


def test_reordered_events_are_found(archive: Archive) -> None:
    _fill(archive, 5)
    with archive.sessions.begin() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(seq=-2))
        session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(seq=2))
        session.execute(update(AuditEvent).where(AuditEvent.seq == -2).values(seq=4))
    report = archive.verify_audit_chain()
    assert {p.seq for p in report.problems} >= {2, 4}
    assert not report.intact


def test_rehashed_edit_still_breaks_the_next_link(archive: Archive) -> None:
    _fill(archive, 4)
    with archive.sessions.begin() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.seq == 2))
        event.outcome = "denied"
        event.hash = audit.event_hash(event)
    report = archive.verify_audit_chain()
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "broken_link")]


def test_concurrent_writers_keep_one_linear_chain(archive: Archive) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            _fill(archive, 10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = archive.verify_audit_chain()
    assert report.intact and report.events == 80
