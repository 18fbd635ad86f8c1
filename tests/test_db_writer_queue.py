"""Writers of several processes queue on a file lock before they begin an SQLite transaction."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import nullcontext
from pathlib import Path

from sqlalchemy import create_engine

from archive_service.db.session import writer_queue


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
