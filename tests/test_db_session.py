"""SQLite sessions: readers never queue behind a writer holding the lock."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from archive_service.db import (
    create_db_engine,
    create_read_session_factory,
    create_schema,
    create_session_factory,
)
from tests.conftest import sqlite_only

pytestmark = sqlite_only


def test_reader_is_not_blocked_by_a_writer_holding_the_lock(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    create_schema(engine)
    writer = create_session_factory(engine)()
    writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is now held
    try:
        with create_read_session_factory(engine)() as reader:
            assert reader.execute(text("SELECT count(*) FROM audit_events")).scalar() == 0
    finally:
        writer.rollback()
        writer.close()
