"""Several processes append to one audit log at once: the chain stays one line.

On SQLite by default; on PostgreSQL when the suite runs with ``ARCHIVE_DATABASE_URL``.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.synchronize
from pathlib import Path

from sqlalchemy import select

from archive_service.access import LOCAL_OPERATOR
from archive_service.audit.anchors import CHECKPOINT_PREFIX
from archive_service.db import AuditEvent
from archive_service.pipeline import Archive, RequestContext
from tests.spawned import archive_in, run_processes

PROCESSES = 3
EVENTS_PER_PROCESS = 40
CHECKPOINT_EVERY = 10


def _archive(data_dir: Path) -> Archive:
    return archive_in(data_dir, audit_checkpoint_every=CHECKPOINT_EVERY)


def append_events(data_dir: Path, writer: int, start: multiprocessing.synchronize.Event) -> None:
    """Runs in a spawned process: its own engine, connections and store handle."""
    archive = _archive(data_dir)
    ctx = RequestContext(actor=LOCAL_OPERATOR, client_address=f"process-{writer}")
    start.wait(timeout=60)
    for i in range(EVENTS_PER_PROCESS):
        archive.record(ctx, "test_event", "ok", {"writer": writer, "i": i})


def test_processes_never_fork_the_chain(data_dir: Path) -> None:
    archive = _archive(data_dir)  # creates the schema before the writers start
    run_processes(append_events, data_dir, PROCESSES)

    report = archive.verify_audit_chain()
    total = PROCESSES * EVENTS_PER_PROCESS
    assert report.intact, report.problems
    assert report.events == report.head_seq == total
    # Every process wrote checkpoints for the events it happened to append; all agree.
    assert report.checkpoints == total // CHECKPOINT_EVERY
    seqs = [
        int(o.key.removeprefix(CHECKPOINT_PREFIX)[:12])
        for o in archive.store.iter_objects(CHECKPOINT_PREFIX)
    ]
    assert seqs == list(range(CHECKPOINT_EVERY, total + 1, CHECKPOINT_EVERY))
    # Each writer's own events stay in the order it wrote them.
    with archive.sessions() as session:
        details = session.scalars(select(AuditEvent.detail).order_by(AuditEvent.seq)).all()
    for writer in range(PROCESSES):
        mine = [d["i"] for d in map(json.loads, details) if d["writer"] == writer]
        assert mine == list(range(EVENTS_PER_PROCESS))
