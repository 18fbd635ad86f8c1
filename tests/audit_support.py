"""Helpers the audit anchoring tests share (embedded default and real S3 servers)."""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import select

from archive_service import audit
from archive_service.access import LOCAL_OPERATOR
from archive_service.db import AuditEvent
from archive_service.pipeline import Archive, RequestContext

CTX = RequestContext(actor=LOCAL_OPERATOR, client_address="127.0.0.1")


def fill(archive: Archive, n: int) -> None:
    for i in range(n):
        archive.record(CTX, "test_event", "ok", {"i": i})


def chain_head(archive: Archive) -> audit.Checkpoint:
    with archive.reader() as session:
        head = audit.chain_head(session)
    assert head is not None
    return head


def kinds(report: audit.ChainReport) -> list[tuple[int, str]]:
    return [(p.seq, p.kind) for p in report.problems]


def events(archive: Archive) -> list[AuditEvent]:
    with archive.reader() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def rewrite_and_rehash(archive: Archive, seq: int) -> None:
    """The insider's edit: change event ``seq`` and recompute every hash and link after it, so
    the chain on its own is intact again."""
    with archive.sessions.begin() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq >= seq - 1).order_by(AuditEvent.seq)
        ).all()
        previous = rows[0].hash if seq > 1 else audit.GENESIS_HASH
        for event in rows[1:] if seq > 1 else rows:
            if event.seq == seq:
                event.actor_name = "нікого не було"
            event.prev_hash = previous
            event.hash = audit.event_hash(event)
            previous = event.hash
    assert audit.verify_events(events(archive)).intact


def faketime(shift: str) -> list[str]:
    """The command prefix that runs a process with its clock shifted (libfaketime ``-f``)."""
    found = os.environ.get("FAKETIME") or shutil.which("faketime")
    if not found:
        message = "libfaketime is not installed: run `bash scripts/install-faketime.sh`"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (required in CI)")
        pytest.skip(message)
    return [found, "-f", shift]
