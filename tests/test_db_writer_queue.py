"""Writers of several processes queue on a file lock before they begin an SQLite transaction."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from archive_service.access import LOCAL_OPERATOR
from archive_service.audit import chain
from archive_service.db.session import writer_queue
from archive_service.pipeline import Archive, RequestContext
from tests.conftest import sqlite_only


def _held_by_someone(path: Path) -> bool:
    """Probe with a descriptor of our own: flock conflicts between open files, even in-process."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def test_sqlite_writers_hold_a_file_lock_next_to_the_database(tmp_path: Path) -> None:
    database = tmp_path / "archive.sqlite3"
    queue = writer_queue(create_engine(f"sqlite:///{database}"))
    lock_file = Path(f"{database}-writers.lock")
    with queue:
        assert _held_by_someone(lock_file)
    assert not _held_by_someone(lock_file)
    with queue:  # reusable: the next transaction takes it again
        assert _held_by_someone(lock_file)


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    """As two server processes would: each queue has its own descriptor on the same file."""
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    first, second = writer_queue(create_engine(url)), writer_queue(create_engine(url))
    entered = threading.Event()

    def write() -> None:
        with second:
            entered.set()

    with first:
        waiting = threading.Thread(target=write)
        waiting.start()
        assert not entered.wait(0.2)
    assert entered.wait(timeout=60)
    waiting.join(timeout=60)


def test_nothing_to_queue_on_without_a_database_file() -> None:
    """In-memory SQLite has one connection; PostgreSQL queues waiting transactions itself."""
    assert isinstance(writer_queue(create_engine("sqlite://")), nullcontext)
    assert isinstance(writer_queue(None), nullcontext)


@sqlite_only
@pytest.mark.parametrize("path", ["alone", "grouped"])
def test_every_audit_append_queues_on_the_file_lock(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Not only downloads' group commits: refusals, searches and token changes appended one by
    one meet the other server process at the same lock, not in SQLite's busy handler."""
    lock_file = Path(f"{archive.sessions.kw['bind'].url.database}-writers.lock")
    held: list[bool] = []
    real_append = chain.append_events

    def observed(connection, batch):  # type: ignore[no-untyped-def]
        held.append(_held_by_someone(lock_file))
        return real_append(connection, batch)

    monkeypatch.setattr(chain, "append_events", observed)
    ctx = RequestContext(actor=LOCAL_OPERATOR, client_address="127.0.0.1")
    if path == "alone":
        archive.record(ctx, "test_event", "ok")
    else:
        archive._record_retrieval(archive._event(ctx, "retrieve_pdf", "ok", None, None, None))
    assert held == [True]
