"""The audit log is a hash chain: every kind of tampering is found and named, checkpoints in
write-once storage reveal a cut or rewritten tail, and writers never fork the chain."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from archive_service import audit
from archive_service.access import LOCAL_OPERATOR
from archive_service.audit.anchors import CHECKPOINT_PREFIX, checkpoint_key
from archive_service.cli import main
from archive_service.db import AuditEvent
from archive_service.pipeline import Archive, RequestContext

CTX = RequestContext(actor=LOCAL_OPERATOR, client_address="127.0.0.1")


def _fill(archive: Archive, n: int) -> None:
    for i in range(n):
        archive.record(CTX, "test_event", "ok", {"i": i, "text": "ґіїє’"})


def _renumber(session: Session, old: int, new: int) -> None:
    session.execute(update(AuditEvent).where(AuditEvent.seq == old).values(seq=new))


def _kinds(archive: Archive) -> list[tuple[int, str]]:
    return [(p.seq, p.kind) for p in archive.verify_audit_chain().problems]


def test_intact_chain(archive: Archive) -> None:
    _fill(archive, 5)
    report = archive.verify_audit_chain()
    assert report.intact and report.events == 5 and report.head_seq == 5


# --------------------------------------------------------------- tampering, one way each


def edit(archive: Archive) -> None:
    with archive.sessions.begin() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(actor_name="someone else")
        )


def edit_and_rehash(archive: Archive) -> None:
    with archive.sessions.begin() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.seq == 2)).one()
        event.outcome = "denied"
        event.hash = audit.event_hash(event)


def delete_one(archive: Archive) -> None:
    with archive.sessions.begin() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))


def delete_and_renumber(archive: Archive) -> None:
    with archive.sessions.begin() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
        for seq in range(3, 7):
            _renumber(session, seq, seq - 1)


def insert_forged(archive: Archive) -> None:
    """A forged event with a correct link and hash, slipped in at #3 (later ones move up)."""
    with archive.sessions.begin() as session:
        for seq in range(6, 2, -1):
            _renumber(session, seq, seq + 1)
        before = session.scalars(select(AuditEvent).where(AuditEvent.seq == 2)).one()
        forged = AuditEvent(
            seq=3,
            occurred_at=before.occurred_at + dt.timedelta(milliseconds=1),
            action="retrieve_pdf",
            outcome="ok",
            actor_name="Підставна особа",
            actor_role="inspector",
            detail="{}",
            prev_hash=before.hash,
        )
        forged.hash = audit.event_hash(forged)
        session.add(forged)


def reorder(archive: Archive) -> None:
    with archive.sessions.begin() as session:
        _renumber(session, 2, -2)
        _renumber(session, 4, 2)
        _renumber(session, -2, 4)


def cut_tail_after_checkpoint(archive: Archive) -> None:
    assert archive.write_audit_checkpoint() is not None
    with archive.sessions.begin() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq >= 5))


def rewrite_tail_after_checkpoint(archive: Archive) -> None:
    """Cut the tail and append new, well-linked events: the chain looks fine on its own."""
    assert archive.write_audit_checkpoint() is not None
    with archive.sessions.begin() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq >= 5))
    _fill(archive, 2)


TAMPERING: dict[str, tuple[Callable[[Archive], None], list[tuple[int, str]]]] = {
    "edited": (edit, [(3, "edited")]),
    "edited and re-hashed": (edit_and_rehash, [(2, "edited")]),
    "deleted": (delete_one, [(2, "deleted")]),
    "deleted and renumbered": (delete_and_renumber, [(2, "deleted")]),
    "inserted": (insert_forged, [(3, "inserted")]),
    "reordered": (reorder, [(2, "reordered"), (4, "reordered")]),
    "tail cut after a checkpoint": (cut_tail_after_checkpoint, [(5, "tail_cut")]),
    "tail rewritten after a checkpoint": (
        rewrite_tail_after_checkpoint,
        [(6, "rewritten_before_checkpoint")],
    ),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_tampering_is_found_and_named(archive: Archive, data_dir: Path, case: str) -> None:
    tamper, expected = TAMPERING[case]
    _fill(archive, 6)
    tamper(archive)
    assert _kinds(archive) == expected

    result = CliRunner().invoke(main, ["audit", "verify"], env={"ARCHIVE_DATA_DIR": str(data_dir)})
    assert result.exit_code == 1, result.output
    for seq, kind in expected:
        assert f"event {seq}: {kind}" in result.output


def test_checkpoint_without_tampering_is_consistent(archive: Archive) -> None:
    _fill(archive, 4)
    archive.write_audit_checkpoint()
    _fill(archive, 3)
    report = archive.verify_audit_chain()
    assert report.intact and report.checkpoints == 1
    assert report.last_checkpoint is not None and report.last_checkpoint.seq == 4


# ------------------------------------------------------------------------- checkpoints


def _checkpoint_keys(archive: Archive) -> list[str]:
    return [o.key for o in archive.store.iter_objects(CHECKPOINT_PREFIX)]


def test_checkpoints_are_written_every_n_events(archive: Archive) -> None:
    assert archive.checkpoints is not None
    archive.checkpoints.every = 3
    _fill(archive, 7)
    with archive.sessions() as session:
        heads = {
            e.seq: e.hash
            for e in session.scalars(select(AuditEvent).where(AuditEvent.seq.in_([3, 6])))
        }
    assert _checkpoint_keys(archive) == [checkpoint_key(3, heads[3]), checkpoint_key(6, heads[6])]


def test_checkpoint_is_retained_long_and_idempotent(archive: Archive) -> None:
    _fill(archive, 2)
    first = archive.write_audit_checkpoint()
    again = archive.write_audit_checkpoint()  # same head: must not fail
    assert first is not None and again == first
    (stored,) = archive.store.iter_objects(CHECKPOINT_PREFIX)
    assert stored.key == checkpoint_key(2, first.hash)
    assert stored.retain_until >= dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 9)
    assert first.events == 2


def test_a_checkpoint_another_process_is_still_writing_is_not_an_error(
    archive: Archive, data_dir: Path
) -> None:
    """Two processes stopping at once checkpoint the same head; their bytes differ (each says
    when it wrote). The one that finds the other's data but no manifest yet must not fail."""
    _fill(archive, 2)
    with archive.sessions() as session:
        head = audit.chain_head(session)
    assert head is not None
    key = checkpoint_key(head.seq, head.hash)
    half_written = data_dir / "objects" / "objects" / key  # the other writer's data, no manifest
    half_written.parent.mkdir(parents=True)
    half_written.write_bytes(b'{"written_at": "by the other process"}')

    written = archive.write_audit_checkpoint()

    assert written is not None and (written.seq, written.hash) == (head.seq, head.hash)
    assert half_written.read_bytes() == b'{"written_at": "by the other process"}'


def test_empty_log_has_no_checkpoint(archive: Archive) -> None:
    assert archive.write_audit_checkpoint() is None
    assert _checkpoint_keys(archive) == []


def test_cli_checkpoint_then_verify(archive: Archive, data_dir: Path) -> None:
    _fill(archive, 3)
    runner, env = CliRunner(), {"ARCHIVE_DATA_DIR": str(data_dir)}
    written = runner.invoke(main, ["audit", "checkpoint"], env=env)
    assert written.exit_code == 0 and "checkpoint at #3" in written.output
    verified = runner.invoke(main, ["audit", "verify"], env=env)
    assert verified.exit_code == 0, verified.output
    assert "checkpoints: 1, latest at #3" in verified.output and "chain intact" in verified.output


# ------------------------------------------------------------------------- concurrency


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
